using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace AgentHost;

/// <summary>Reviews changes; its configured model may fail to load, and then a fallback serves.</summary>
public sealed class ReviewerAgent([FromKeyedServices(nameof(ReviewerAgent))] IChatClient chat)
    : Agent(nameof(ReviewerAgent), chat)
{
    public override string Job => "reviews a change";
}
