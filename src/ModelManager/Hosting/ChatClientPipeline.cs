using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>One <see cref="ModelManagerBuilder.ConfigureChatClients"/> registration: adds middleware to each keyed chat client.</summary>
internal sealed class ChatClientPipeline(Action<string, ChatClientBuilder> configure)
{
    public void Configure(string key, ChatClientBuilder builder) => configure(key, builder);
}
