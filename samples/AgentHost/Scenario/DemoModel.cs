namespace AgentHost;

/// <summary>One model of the generated config, as the models table shows it.</summary>
public sealed record DemoModel(string Name, string Source, int Priority, double MaxIdleSeconds, string? Fallback, long? EstimatedBytes);
