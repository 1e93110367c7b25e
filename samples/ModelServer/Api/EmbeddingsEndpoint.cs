using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using ModelManager;

namespace ModelServer.Api;

/// <summary><c>POST /v1/embeddings</c>: one vector per input string, as floats or base64 (little-endian float32), with usage.</summary>
/// <remarks>
/// <c>input</c> is a string or an array of up to 2,048 strings (token arrays are refused: the models tokenize themselves);
/// <c>dimensions</c> is passed to the model, which refuses a size it cannot produce (a 400 naming the parameter); <c>user</c>
/// is accepted and has no effect. A model that does not serve embeddings is a 400 naming it.
/// </remarks>
internal static class EmbeddingsEndpoint
{
    /// <summary>Most inputs per request, as OpenAI's limit.</summary>
    public const int MaxInputs = 2048;

    public static async Task HandleAsync(HttpContext context, IModelManager manager, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("ModelServer.Embeddings");
        var cancellationToken = context.RequestAborted;
        string name;
        IReadOnlyList<string> inputs;
        bool base64;
        EmbeddingGenerationOptions? options;
        try
        {
            var body = await RequestReader.ReadObjectAsync(context.Request, cancellationToken);
            (name, _) = RequestReader.Model(body, manager);
            if (!manager.GetModels().Single(m => m.Name == name).Capabilities.HasFlag(ModelCapabilities.Embeddings))
            {
                throw new ApiException(StatusCodes.Status400BadRequest,
                    $"The model '{name}' does not serve embeddings (its capabilities are chat only); use an embedding model.", "model", "model_not_supported");
            }

            inputs = ReadInput(body);
            base64 = RequestReader.String(body, "encoding_format") switch
            {
                null or "float" => false,
                "base64" => true,
                { } other => throw RequestReader.Invalid("encoding_format", $"must be \"float\" or \"base64\", got \"{other}\""),
            };
            var dimensions = RequestReader.Integer(body, "dimensions", 1, 65_536);
            options = dimensions is { } d ? new EmbeddingGenerationOptions { Dimensions = (int)d } : null;
            _ = RequestReader.String(body, "user");
        }
        catch (ApiException e)
        {
            await e.ToResult().ExecuteAsync(context);
            return;
        }
        catch (InvalidOperationException e) when (e.Message.Contains("UTF-", StringComparison.Ordinal) || e.Message.Contains("surrogate", StringComparison.OrdinalIgnoreCase)
                                                  || e.InnerException is System.Text.DecoderFallbackException or System.Text.EncoderFallbackException)
        {
            await new ApiException(StatusCodes.Status400BadRequest, $"The request body holds a string that is not valid Unicode (a lone surrogate escape?): {e.Message}", "input").ToResult().ExecuteAsync(context);
            return;
        }

        GeneratedEmbeddings<Embedding<float>> result;
        try
        {
            result = await manager.GetEmbeddingGenerator(name).GenerateAsync(inputs, options, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }
        catch (NotSupportedException e) when (options is not null && e.Message.Contains("Dimensions", StringComparison.Ordinal))
        {
            await ApiError.Result(StatusCodes.Status400BadRequest, e.Message, "dimensions", "unsupported_value").ExecuteAsync(context);
            return;
        }
        catch (Exception e)
        {
            await ServerSentEvents.FailAsync(context, e, logger);
            return;
        }

        var data = new JsonArray();
        for (var i = 0; i < result.Count; i++)
        {
            var vector = result[i].Vector;
            data.Add(new JsonObject
            {
                ["object"] = "embedding",
                ["index"] = i,
                ["embedding"] = base64 ? Convert.ToBase64String(MemoryMarshal.AsBytes(vector.Span)) : new JsonArray([.. vector.ToArray().Select(v => JsonValue.Create(v))]),
            });
        }

        var tokens = result.Usage?.InputTokenCount ?? 0;
        await Json.Ok(new JsonObject
        {
            ["object"] = "list",
            ["data"] = data,
            ["model"] = result.Count > 0 ? result[0].ModelId ?? name : name,
            ["usage"] = new JsonObject { ["prompt_tokens"] = tokens, ["total_tokens"] = tokens },
        }).ExecuteAsync(context);
    }

    private static string[] ReadInput(JsonElement body)
    {
        if (!body.TryGetProperty("input", out var input) || input.ValueKind == JsonValueKind.Null)
        {
            throw RequestReader.Missing("input");
        }

        if (input.ValueKind == JsonValueKind.String)
        {
            return [input.GetString()!];
        }

        if (input.ValueKind != JsonValueKind.Array)
        {
            throw RequestReader.Invalid("input", $"must be a string or an array of strings, got {RequestReader.Describe(input.ValueKind)}");
        }

        var count = input.GetArrayLength();
        if (count is 0 or > MaxInputs)
        {
            throw RequestReader.Invalid("input", $"must hold 1 to {MaxInputs} strings, got {count}");
        }

        var values = new string[count];
        var i = 0;
        foreach (var item in input.EnumerateArray())
        {
            values[i] = item.ValueKind switch
            {
                JsonValueKind.String => item.GetString()!,
                JsonValueKind.Number or JsonValueKind.Array => throw RequestReader.Invalid("input", "token arrays are not supported: send the text, the model tokenizes it"),
                _ => throw RequestReader.Invalid($"input[{i}]", $"must be a string, got {RequestReader.Describe(item.ValueKind)}"),
            };
            i++;
        }

        return values;
    }
}
