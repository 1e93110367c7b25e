namespace AgentHost;

/// <summary>Reviews changes; its configured model may fail to load, and then a fallback serves.</summary>
public sealed class ReviewerAgent([FromKeyedServices(nameof(ReviewerAgent))] IChatClient chat)
    : Agent(nameof(ReviewerAgent), "reviews a change", chat);
