using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>Generated output split into its free text and the tool calls found in it.</summary>
/// <param name="Text">The text outside the calls, trimmed; empty when the output was only calls.</param>
/// <param name="Calls">The calls in output order; empty when there were none.</param>
internal sealed record ParsedToolOutput(string Text, IReadOnlyList<FunctionCallContent> Calls);
