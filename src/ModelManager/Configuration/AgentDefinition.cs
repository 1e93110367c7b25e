namespace ModelManager;

/// <summary>One entry of <c>agents</c>: which model an agent uses.</summary>
public sealed class AgentDefinition
{
    /// <summary><c>model</c>: the agent's model.</summary>
    public string Model { get; set; } = "";

    /// <summary><c>fallbacks</c>: models to try, in order, when the agent's model cannot load; overrides the model's own.</summary>
    public IList<string> Fallbacks { get; set; } = [];
}
