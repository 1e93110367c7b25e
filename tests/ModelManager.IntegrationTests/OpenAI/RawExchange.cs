using System.Net.Sockets;
using System.Text;

namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>The server side of one exchange: answer, stream, stall or drop.</summary>
internal sealed class RawExchange(RawRequest request, NetworkStream stream, Socket socket, CancellationToken serverStopping)
{
    public RawRequest Request { get; } = request;

    /// <summary>A complete response with a body and <c>Connection: close</c>.</summary>
    public async Task RespondAsync(int status, string body, string contentType = "application/json", params (string Name, string Value)[] headers)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var head = new StringBuilder($"HTTP/1.1 {status} {Reason(status)}\r\nContent-Type: {contentType}\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n");
        foreach (var (name, value) in headers)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        head.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), serverStopping);
        await stream.WriteAsync(bytes, serverStopping);
        await stream.FlushAsync(serverStopping);
    }

    /// <summary>Starts a 200 <c>text/event-stream</c> response with chunked encoding.</summary>
    public Task StartEventStreamAsync() => WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");

    /// <summary>Sends one SSE event (<c>data: ...</c>) as one HTTP chunk.</summary>
    public Task SendEventAsync(string data)
    {
        var payload = Encoding.UTF8.GetBytes($"data: {data}\n\n");
        return WriteAsync($"{payload.Length:X}\r\n{Encoding.UTF8.GetString(payload)}\r\n");
    }

    /// <summary>Ends the chunked body cleanly.</summary>
    public Task EndStreamAsync() => WriteAsync("0\r\n\r\n");

    /// <summary>Resets the connection (TCP RST) without finishing the response.</summary>
    public void Drop()
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }

    /// <summary>Runs <paramref name="chat"/> for chat requests and answers anything else (the model list) normally.</summary>
    public Task IsChatOr(Func<Task> chat) => Request.IsChat ? chat() : ModelsAsync();

    /// <summary>Sends nothing more until the server is disposed.</summary>
    public Task StallAsync() => Task.Delay(Timeout.Infinite, serverStopping);

    /// <summary>An OpenAI chat chunk carrying <paramref name="content"/>, and optionally a finish reason.</summary>
    public static string ChatChunk(string content, string? finishReason = null) =>
        $$"""{"id":"chatcmpl-raw","object":"chat.completion.chunk","created":1,"model":"raw","choices":[{"index":0,"delta":{"content":{{System.Text.Json.JsonSerializer.Serialize(content)}}},"finish_reason":{{(finishReason is null ? "null" : $"\"{finishReason}\"")}}}]}""";

    /// <summary>A well-formed streamed answer: the pieces, a finish reason, then [DONE].</summary>
    public async Task StreamAnswerAsync(params string[] pieces)
    {
        await BeginAnswerAsync(pieces);
        await SendEventAsync(ChatChunk("", "stop"));
        await SendEventAsync("[DONE]");
        await EndStreamAsync();
    }

    /// <summary>The start of a streamed answer: the event stream and one chat chunk per piece, no finish reason yet.</summary>
    public async Task BeginAnswerAsync(params string[] pieces)
    {
        await StartEventStreamAsync();
        foreach (var piece in pieces)
        {
            await SendEventAsync(ChatChunk(piece));
        }
    }

    /// <summary>A model list with one model.</summary>
    public Task ModelsAsync(string id = "raw") =>
        RespondAsync(200, $$"""{"object":"list","data":[{"id":"{{id}}","object":"model","created":1,"owned_by":"test"}]}""");

    private async Task WriteAsync(string text)
    {
        await stream.WriteAsync(Encoding.UTF8.GetBytes(text), serverStopping);
        await stream.FlushAsync(serverStopping);
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
}
