// The AgentHost sample: AgentHostApp builds the host, Scenario/ is what it does, Agents/ who does it, Terminal/ what it prints.
return await AgentHost.AgentHostApp.RunAsync(args);
