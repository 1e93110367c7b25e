using System.Net.Http.Headers;
using System.Text.Json;

namespace ModelManager.IntegrationTests.Dashboard;

/// <summary>One open <c>GET /v1/events</c> response, read frame by frame as a client does (plain HttpClient, no SSE library).</summary>
internal sealed class EventStream(HttpResponseMessage response, StreamReader reader) : IDisposable
{
    /// <summary>Opens the stream with <paramref name="key"/> as the bearer key; fails unless the answer is a 200 event stream.</summary>
    public static async Task<EventStream> OpenAsync(HttpClient http, string path = "v1/events", string? key = DashboardModels.ApiKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return new EventStream(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }

    /// <summary>The next frame: its <c>event</c> (null for a comment), its <c>data</c> or comment text, and its <c>id</c>.</summary>
    public async Task<Frame> ReadAsync(CancellationToken cancellationToken)
    {
        string? type = null, data = null, id = null, comment = null;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (type is not null || data is not null || comment is not null)
                {
                    return new Frame(type, data ?? comment ?? "", id);
                }

                continue;
            }

            if (line.StartsWith(':'))
            {
                comment = line[1..].Trim();
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                type = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data = line["data: ".Length..];
            }
            else if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line["id: ".Length..];
            }
        }

        throw new EndOfStreamException("the event stream ended");
    }

    /// <summary>Reads until a <c>model</c> event matches <paramref name="match"/>; returns its JSON.</summary>
    public async Task<JsonElement> ReadModelEventAsync(Func<JsonElement, bool> match, CancellationToken cancellationToken)
    {
        while (true)
        {
            var frame = await ReadAsync(cancellationToken);
            if (frame.Type == "model")
            {
                var json = JsonDocument.Parse(frame.Data).RootElement.Clone();
                if (match(json))
                {
                    return json;
                }
            }
        }
    }

    public void Dispose()
    {
        reader.Dispose();
        response.Dispose();
    }

    /// <summary>One server-sent frame.</summary>
    public sealed record Frame(string? Type, string Data, string? Id);
}
