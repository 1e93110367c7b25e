using System.ClientModel.Primitives;

namespace ModelManager;

/// <summary>Removes the <c>Authorization</c> header just before sending: for servers that need no key (Ollama, llama.cpp's server, vLLM without <c>--api-key</c>).</summary>
/// <remarks>The SDK insists on a credential; the placeholder it is given never leaves the process.</remarks>
internal sealed class NoAuthorizationPolicy : PipelinePolicy
{
    /// <summary>The placeholder credential, removed again by this policy.</summary>
    public const string Placeholder = "no-key";

    public static readonly NoAuthorizationPolicy Instance = new();

    public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        message.Request.Headers.Remove("Authorization");
        ProcessNext(message, pipeline, currentIndex);
    }

    public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        message.Request.Headers.Remove("Authorization");
        return ProcessNextAsync(message, pipeline, currentIndex);
    }
}
