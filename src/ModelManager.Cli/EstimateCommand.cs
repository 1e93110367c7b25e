using System.CommandLine;
using System.Text.Json.Nodes;

namespace ModelManager.Cli;

/// <summary>
/// <c>modelmanager estimate PATH</c>: the manager's pre-load estimate with its parts, and which budgets it fits; for a
/// config.json, every model's estimate and whether the preloaded set fits.
/// </summary>
internal static class EstimateCommand
{
    public static Command Create(CliOptions common)
    {
        var path = new Argument<string>("path") { Description = "A .gguf file, an ONNX model folder, or a config.json (every model in it)" };
        var context = new Option<int?>("--context") { Description = "Tokens per sequence (context_length); default: the model's or the backend's default" };
        var parallel = new Option<int?>("--parallel") { Description = "Sequences served at once (parallel); default: the backend's" };
        var config = new Option<string?>("--config") { Description = "A config.json whose budget (max_memory_mb, less its preloaded models) the model should fit" };
        var type = CliOptions.TypeOption();
        var command = new Command("estimate", "Estimate the memory a model needs before loading it, part by part, and which budgets it fits")
        {
            path, context, parallel, type, config, common.Json,
        };
        command.SetAction((result, cancellationToken) => common.RunAsync(result, (output, models) =>
        {
            var target = result.GetValue(path)!;
            if (target.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && !Directory.Exists(target))
            {
                return Task.FromResult(EstimateConfig(output, models, target));
            }

            var model = models.Describe(target, result.GetValue(type), result.GetValue(context), result.GetValue(parallel));
            var estimate = models.InspectorFor(model).Estimate(model);
            var budgets = new List<Budget> { new("default budget (75% of this machine's available memory)", LocalModels.DefaultLimitBytes, 0) };
            if (result.GetValue(config) is { } configPath)
            {
                var (limit, preloaded, source) = ConfigBudget(models, configPath);
                budgets.Add(new Budget($"max_memory_mb of {source}", limit, preloaded));
            }

            WriteModel(output, model, estimate, budgets);
            return Task.FromResult(0);
        }));
        return command;
    }

    /// <summary>A budget a model may be loaded into; <paramref name="Preloaded"/> bytes of it are taken by preloaded models.</summary>
    private sealed record Budget(string Name, long LimitBytes, long Preloaded)
    {
        public long Free => Math.Max(0, LimitBytes - Preloaded);
    }

    /// <summary>The model's settings as they resolved: what the estimate assumed.</summary>
    /// <remarks>Context and parallel appear when the config or the command line set them; the parts' details show the defaults a backend used.</remarks>
    private static JsonObject Describe(ModelDescriptor model)
    {
        var json = new JsonObject { ["name"] = model.Name, ["type"] = model.Type, ["path"] = model.Path };
        if (model.ContextLength is { } context)
        {
            json["context_length"] = context;
        }

        if (model.GetInt32("parallel") is { } parallel)
        {
            json["parallel"] = parallel;
        }

        return json;
    }

    private static void WriteModel(CliOutput output, ModelDescriptor model, MemoryEstimate estimate, IReadOnlyList<Budget> budgets)
    {
        long total = estimate.TotalBytes;
        if (output.Json)
        {
            var json = Describe(model);
            json["total_bytes"] = total;
            json["parts"] = Parts(estimate);
            json["budgets"] = new JsonArray([.. budgets.Select(b => (JsonNode)new JsonObject
            {
                ["name"] = b.Name,
                ["limit_bytes"] = b.LimitBytes,
                ["preloaded_bytes"] = b.Preloaded,
                ["fits"] = total <= b.Free,
            })]);
            output.WriteJson(json);
            return;
        }

        output.Line($"{model.Path} (type {model.Type}{(model.ContextLength is { } c ? $", context {c}" : "")}{(model.GetInt32("parallel") is { } p ? $", parallel {p}" : "")})");
        output.Write(PartsTable(output, estimate));
        var table = CliOutput.RightAlign(output.Table("budget", "limit MB", "free MB", "fits"), 1, 2);
        foreach (var b in budgets)
        {
            CliOutput.Row(table, b.Name, CliOutput.Mb(b.LimitBytes), CliOutput.Mb(b.Free), total <= b.Free ? "yes" : "no");
        }

        output.Write(table);
    }

    private static Spectre.Console.Table PartsTable(CliOutput output, MemoryEstimate estimate)
    {
        var table = CliOutput.RightAlign(output.Table("part", "bytes", "MB", "how"), 1, 2);
        foreach (var part in estimate.Parts)
        {
            CliOutput.Row(table, part.Name, CliOutput.Number(part.Bytes), CliOutput.Mb(part.Bytes), part.Detail);
        }

        CliOutput.Row(table, "total", CliOutput.Number(estimate.TotalBytes), CliOutput.Mb(estimate.TotalBytes), "what the manager charges the budget before the load");
        return table;
    }

    private static JsonArray Parts(MemoryEstimate estimate) =>
        [.. estimate.Parts.Select(p => (JsonNode)new JsonObject { ["name"] = p.Name, ["bytes"] = p.Bytes, ["detail"] = p.Detail })];

    /// <summary>The config's limit and what its preloaded models take of it.</summary>
    private static (long Limit, long Preloaded, string Source) ConfigBudget(LocalModels models, string configPath)
    {
        var options = LocalModels.ReadConfig(configPath);
        var validated = models.Validate(options, checkPreloadFit: false);
        long preloaded = 0;
        foreach (var m in validated.Models.Where(m => m.Preload))
        {
            preloaded += Bytes(models, m);
        }

        return (validated.LimitBytes, preloaded, options.Source ?? configPath);
    }

    /// <summary>A model's estimate: the parts where its backend reads files, else what the backend says (a remote model's configured size).</summary>
    private static MemoryEstimate EstimateOf(LocalModels models, ModelDescriptor model)
    {
        if (models.Backends[model.Type] is IModelInspector inspector)
        {
            return inspector.Estimate(model);
        }

#pragma warning disable RS0030 // Banned API: backends without files estimate from config alone and complete synchronously.
        long bytes = models.Backends[model.Type].EstimateBytesAsync(model, CancellationToken.None).AsTask().GetAwaiter().GetResult();
#pragma warning restore RS0030
        return new MemoryEstimate([new MemoryEstimatePart("as configured", bytes, "a model served elsewhere: its parameters.size_mb, else nothing")]);
    }

    private static long Bytes(LocalModels models, ModelDescriptor model) => EstimateOf(models, model).TotalBytes;

    private static int EstimateConfig(CliOutput output, LocalModels models, string configPath)
    {
        var options = LocalModels.ReadConfig(configPath);
        var validated = models.Validate(options, checkPreloadFit: false);
        var rows = new List<(ModelDescriptor Model, MemoryEstimate? Estimate, string? Error)>();
        foreach (var model in validated.Models)
        {
            try
            {
                rows.Add((model, EstimateOf(models, model), null));
            }
            catch (Exception e) when (e is ModelLoadException or UnreadableFileException or IOException or UnauthorizedAccessException)
            {
                rows.Add((model, null, e.Message));
            }
        }

        long limit = validated.LimitBytes;
        long preloaded = rows.Where(r => r.Model.Preload && r.Estimate is not null).Sum(r => r.Estimate!.TotalBytes);
        bool preloadFits = preloaded <= limit;
        bool failed = rows.Any(r => r.Error is not null);
        if (output.Json)
        {
            output.WriteJson(new JsonObject
            {
                ["source"] = options.Source,
                ["limit_bytes"] = limit,
                ["models"] = new JsonArray([.. rows.Select(r =>
                {
                    var json = Describe(r.Model);
                    json["preload"] = r.Model.Preload;
                    json["priority"] = r.Model.MemoryPriority;
                    if (r.Estimate is { } estimate)
                    {
                        json["total_bytes"] = estimate.TotalBytes;
                        json["fits"] = estimate.TotalBytes <= limit;
                        json["parts"] = Parts(estimate);
                    }
                    else
                    {
                        json["error"] = r.Error;
                    }

                    return (JsonNode)json;
                })]),
                ["preload"] = new JsonObject
                {
                    ["total_bytes"] = preloaded,
                    ["fits"] = preloadFits,
                    ["unestimated"] = new JsonArray([.. rows.Where(r => r.Model.Preload && r.Estimate is null).Select(r => (JsonNode)r.Model.Name)]),
                },
            });
        }
        else
        {
            output.Line($"{options.Source}: budget {CliOutput.Mb(limit)} MB{(options.MaxMemoryMb is null ? " (the default: 75% of this machine's available memory)" : "")}");
            var table = CliOutput.RightAlign(output.Table("model", "type", "priority", "preload", "estimate MB", "fits alone", "largest part"), 4);
            foreach (var (model, estimate, error) in rows)
            {
                var largest = estimate?.Parts.MaxBy(p => p.Bytes);
                CliOutput.Row(table, model.Name, model.Type, model.MemoryPriority.ToString(System.Globalization.CultureInfo.InvariantCulture), model.Preload ? "yes" : "no",
                    estimate is null ? "error" : CliOutput.Mb(estimate.TotalBytes),
                    estimate is null ? "" : estimate.TotalBytes <= limit ? "yes" : "no",
                    error ?? (largest is null ? "" : $"{largest.Name} {CliOutput.Mb(largest.Bytes)} MB"));
            }

            output.Write(table);
            int unknown = rows.Count(r => r.Model.Preload && r.Estimate is null);
            output.Line($"preloaded models: {CliOutput.Mb(preloaded)} MB of {CliOutput.Mb(limit)} MB: {(preloadFits ? "fit" : "do NOT fit")}" +
                (unknown > 0 ? $" (without {unknown} that could not be estimated)" : ""));
        }

        return failed || !preloadFits ? CliOptions.Failed : 0;
    }
}
