namespace ModelServer.Api;

/// <summary>A request the server rejects with an OpenAI-style error; thrown while reading the request.</summary>
internal sealed class ApiException(int status, string message, string? param = null, string? code = null) : Exception(message)
{
    public int Status { get; } = status;

    public string? Param { get; } = param;

    public string? Code { get; } = code;

    public IResult ToResult() => ApiError.Result(Status, Message, Param, Code);
}
