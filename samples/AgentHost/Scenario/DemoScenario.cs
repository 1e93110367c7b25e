using System.Diagnostics;
using System.Globalization;

namespace AgentHost;

/// <summary>The scripted demo: four agents share, evict, idle out and fall back between models under one memory budget.</summary>
public sealed class DemoScenario(
    IModelManager manager,
    ModelEventLog events,
    AgentConsole console,
    DemoPlan plan,
    CodebaseExpertAgent expert,
    SummarizerAgent summarizer,
    CodeGeneratorAgent generator,
    ReviewerAgent reviewer,
    RetrievalAgent retrieval)
{
    /// <summary>The retrieval agent's notes; the question below is about the first.</summary>
    private static readonly string[] Notes =
    [
        "When memory runs short, the manager evicts the least important idle model first.",
        "A man is playing a guitar.",
        "The stock market fell sharply today.",
        "Once upon a time, there was a little girl named Lily.",
    ];

    private const string Question = "Which model is evicted when memory runs short?";

    /// <summary>How long past <c>max_idle_time</c> the idle step waits before it calls the unload missing: a hang bound, not a target.</summary>
    private const double IdleWaitBoundSeconds = 60;

    private readonly List<(string Description, bool Passed)> _checks = [];

    /// <summary>Runs every step and returns 0 when each behaved as the demo expects, else 1.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        ShowSetup();
        await ShareOneModelAsync(cancellationToken);
        await FallBackAsync(cancellationToken);
        await EvictForCapacityAsync(cancellationToken);
        await UnloadWhenIdleAsync(cancellationToken);
        await AnswerInShapeAsync(cancellationToken);
        await RetrieveThenAnswerAsync(cancellationToken);
        return ShowFinalState();
    }

    private void ShowSetup()
    {
        console.Section("Setup");
        console.Detail("config", $"{plan.ConfigPath} (generated; run your own with --config PATH)");
        if (plan.CacheDirectory is not null)
        {
            console.Detail("synthetic models", $"{plan.CacheDirectory} (random weights: their text is noise)");
        }

        console.Detail("backend", plan.Backend == "fake" ? "fake (ModelManager.Testing; no native code)" : "gguf (LLamaSharp, llama.cpp on the CPU)");
        console.Detail("memory budget", $"{plan.BudgetMb} MB (max_memory_mb): room for {plan.SharedModel} with {plan.CoderModel} or with {plan.ReviewerModel}, not with both");
        console.Table("Models (memory_priority 1 = keep longest, 5 = evict first)",
            ["Model", "Priority", "Estimate", "max_idle_time", "Fallbacks", "File"],
            plan.Models.Select(m => (IReadOnlyList<string>)
            [
                m.Name, m.Priority.ToString(CultureInfo.InvariantCulture),
                m.EstimatedBytes is { } b ? AgentConsole.FormatMb(b) : "unreadable",
                m.MaxIdleSeconds > 0 ? $"{m.MaxIdleSeconds} s" : "never", m.Fallback ?? "-", m.Source,
            ]),
            1, 2);

        Agent[] agents = [expert, summarizer, generator, reviewer, retrieval];
        var fallbacks = manager.GetModels().ToDictionary(m => m.Name, m => m.Fallbacks);
        console.Table("Agents: which agent uses which model",
            ["Agent", "Model", "Fallbacks", "Job", "Receives"],
            agents.Select(a => (IReadOnlyList<string>)
            [
                a.Name, a == retrieval ? $"{a.ConfiguredModel} + {retrieval.EmbeddingModel}" : a.ConfiguredModel ?? "?",
                a.ConfiguredModel is { } m && fallbacks.TryGetValue(m, out var f) && f.Count > 0 ? string.Join(", ", f) : "-",
                a.Job, a.Injection,
            ]));
        console.Note(plan.Backend == "fake" ? "fake models repeat words from a fixed list: the text shows that calls ran, nothing more."
            : plan.SharedModel == "stories260K" ? "stories260K only knows children's stories and the synthetic models emit noise: the text shows that calls ran, not what a real model would say."
            : "every model here is synthetic, so their text is noise: it shows that calls ran, not what a real model would say.");
    }

    private async Task ShareOneModelAsync(CancellationToken cancellationToken)
    {
        console.Section($"1. Two agents, one model: both ask for {plan.SharedModel} at once");
        var results = await RunTogetherAsync(cancellationToken,
            (expert, "Where does the manager decide which model to evict?"),
            (summarizer, "Summarize: two agents asked for one model at the same time and it loaded once."));

        var stats = manager.GetModelStats()[plan.SharedModel];
        var memory = manager.GetMemoryUsage();
        var held = memory.Models.TryGetValue(plan.SharedModel, out var usage) ? usage.ChargedBytes : 0;
        console.MarkupLine($"  [bold]shared:[/] {plan.SharedModel} serves {expert.Name} and {summarizer.Name} from one copy: " +
                       $"[bold]LoadCount = {stats.LoadCount}[/], {AgentConsole.FormatMb(held)} in memory " +
                       $"({memory.Models.Count} model(s) in GetMemoryUsage(), total {AgentConsole.FormatMb(memory.TotalBytes)})");
        Check($"{plan.SharedModel} loaded once for two concurrent agents (LoadCount = {stats.LoadCount}) and is held once ({AgentConsole.FormatMb(held)})",
            stats.LoadCount == 1 && held > 0 && memory.Models.Count == 1 && results.All(r => r.Model == plan.SharedModel));
    }

    private async Task FallBackAsync(CancellationToken cancellationToken)
    {
        console.Section($"2. A model that cannot load: {reviewer.Name}'s {plan.BrokenModel} falls back to {plan.ReviewerModel}");
        var results = await RunTogetherAsync(cancellationToken,
            (reviewer, "Review: the cache now evicts the least important idle model first."),
            (expert, "Which models are loaded right now?"));

        var fallback = events.Events.FirstOrDefault(e => e.Kind == ModelEventKind.FallbackUsed && e.ModelName == plan.BrokenModel);
        Check($"FallbackUsed: {plan.BrokenModel} -> {fallback?.Detail ?? "(no event)"}, and {reviewer.Name} was served by {results[0].Model}",
            fallback?.Detail == plan.ReviewerModel && results[0].Model == plan.ReviewerModel);
    }

    private async Task EvictForCapacityAsync(CancellationToken cancellationToken)
    {
        var before = manager.GetMemoryUsage();
        var coderEstimate = plan.Models.First(m => m.Name == plan.CoderModel).EstimatedBytes ?? 0;
        console.Section($"3. Memory budget: {plan.CoderModel} needs room, so the least important idle model goes");
        console.MarkupLine($"  in memory: {string.Join(", ", before.Models.Select(m => $"{m.Key} {AgentConsole.FormatMb(m.Value.ChargedBytes)}"))}" +
                       $" = {AgentConsole.FormatMb(before.TotalBytes)} of {AgentConsole.FormatMb(before.LimitBytes)};" +
                       $" {plan.CoderModel} (priority 2) needs ~{AgentConsole.FormatMb(coderEstimate)}");
        console.Note($"victims: idle models with priority 2 or higher (less important); {plan.SharedModel} (priority 1) is never evicted for {plan.CoderModel}");

        var results = await RunTogetherAsync(cancellationToken,
            (generator, "// C#: returns the least recently used model\nstatic string PickVictim("),
            (expert, "How much memory is left?"));

        var evicted = events.Events.FirstOrDefault(e => e.Kind == ModelEventKind.Evicted && e.Reason == UnloadReason.Capacity);
        var after = manager.GetMemoryUsage();
        console.MarkupLine($"  in memory now: {string.Join(", ", after.Models.Select(m => $"{m.Key} {AgentConsole.FormatMb(m.Value.ChargedBytes)}"))}" +
                       $" = {AgentConsole.FormatMb(after.TotalBytes)} of {AgentConsole.FormatMb(after.LimitBytes)}");
        Check($"Evicted {evicted?.ModelName ?? "(nothing)"} with reason {evicted?.Reason.ToString() ?? "-"} ({AgentConsole.FormatMb(evicted?.Bytes ?? 0)} freed) to load {plan.CoderModel}; {plan.SharedModel} stayed",
            evicted?.ModelName == plan.ReviewerModel && after.Models.ContainsKey(plan.SharedModel) && after.Models.ContainsKey(plan.CoderModel));
    }

    private async Task UnloadWhenIdleAsync(CancellationToken cancellationToken)
    {
        console.Section($"4. Idle unload: {plan.CoderModel} has max_idle_time {plan.IdleSeconds} s");
        var lastUse = manager.GetModelStats()[plan.CoderModel].LastAccessUtc ?? DateTimeOffset.UtcNow;
        console.Note($"no agent calls it any more; waiting for the manager's idle sweep (real time)...");
        var watch = Stopwatch.StartNew();
        // The manager's sweep unloads it within CoarseClock's 100 ms of max_idle_time; the wait's bound only guards against a
        // sweep that never comes (a machine busy with other work delays every timer, this one included).
        var idle = await events.WaitForAsync(
            e => e.Kind == ModelEventKind.Evicted && e.ModelName == plan.CoderModel && e.Reason == UnloadReason.Idle,
            TimeSpan.FromSeconds(plan.IdleSeconds + IdleWaitBoundSeconds), cancellationToken);
        var idleFor = DateTimeOffset.UtcNow - lastUse;
        console.MarkupLine($"  {plan.CoderModel} {(idle is null ? "[red]did not unload[/]" : "unloaded")} after {idleFor.TotalSeconds:F1} s unused (waited {watch.Elapsed.TotalSeconds:F1} s)");
        Check($"{plan.CoderModel} evicted with reason Idle after {idleFor.TotalSeconds:F1} s (max_idle_time {plan.IdleSeconds} s)",
            idle is not null && idleFor.TotalSeconds >= plan.IdleSeconds);
    }

    /// <summary>What the agent writes down about a model, as JSON the chat client must produce.</summary>
    public sealed record ModelNote(string Name, int Priority, bool Loaded, string[] Tags);

    private async Task AnswerInShapeAsync(CancellationToken cancellationToken)
    {
        console.Section($"5. Structured output and a tool call: {expert.Name} on {plan.SharedModel}");
        if (plan.Backend == "fake")
        {
            console.Note("the fake backend cannot enforce a JSON schema or call tools; run with the gguf backend to see this step");
            return;
        }

        var (note, typed) = await expert.AskForAsync<ModelNote>("Write a note about the model you run on.", cancellationToken);
        console.AgentResult(typed);
        var parsed = note is null ? "it did not" : $"name of {note.Name.Length} characters, {note.Tags.Length} tag(s)";
        Check($"GetResponseAsync<ModelNote>() returned JSON that parses into a ModelNote ({parsed})", note is not null);

        var asked = 0;
        var memoryTool = AIFunctionFactory.Create(() =>
        {
            asked++;
            var usage = manager.GetMemoryUsage();
            return $"{AgentConsole.FormatMb(usage.TotalBytes)} of {AgentConsole.FormatMb(usage.LimitBytes)} in use by {string.Join(", ", usage.Models.Keys)}";
        }, "get_memory_usage", "Tells how much memory the loaded models use");
        var (response, answered) = await expert.AskWithToolAsync("How much memory is in use?", memoryTool, cancellationToken);
        var call = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().FirstOrDefault();
        var result = response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>().FirstOrDefault();
        console.MarkupLine($"  tool call: {AgentConsole.Esc(call?.Name ?? "(none)")} ({AgentConsole.Esc(call?.CallId ?? "-")}) -> '{AgentConsole.Esc(result?.Result?.ToString() ?? "-")}'");
        console.AgentResult(answered);
        Check($"the model called get_memory_usage ({asked} time(s)), the function's result went back, and the answer is text",
            asked == 1 && call?.CallId == result?.CallId && !string.IsNullOrWhiteSpace(answered.Text));
    }

    private async Task RetrieveThenAnswerAsync(CancellationToken cancellationToken)
    {
        console.Section($"6. Embeddings in the same budget: {retrieval.Name} finds a note with {plan.EmbeddingModel}, then asks {plan.SharedModel}");
        var estimate = plan.Models.First(m => m.Name == plan.EmbeddingModel).EstimatedBytes ?? 0;
        console.Note($"{plan.EmbeddingModel} (priority 3) needs ~{AgentConsole.FormatMb(estimate)}; it loads like any model, on the first embedding call");
        RetrievalAgent.Retrieval? found = null;
        await console.RunWithLoadProgressAsync(async () => found = await retrieval.AskAsync(Notes, Question, plan.MaxTokens, cancellationToken));
        var r = found!;
        console.MarkupLine($"  [aqua]{retrieval.Name,-20}[/] <- [bold]{AgentConsole.Esc(r.EmbeddingModel)}[/] [grey]{r.EmbeddingTime.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture)} s, " +
                           $"{r.Texts} texts in one call, {r.Dimensions} dimensions, {r.Tokens?.ToString(CultureInfo.InvariantCulture) ?? "?"} tok[/]");
        console.MarkupLine($"  nearest note to \"{AgentConsole.Esc(Question)}\" (cosine {r.Scores[r.Best].ToString("F3", CultureInfo.InvariantCulture)}): \"{AgentConsole.Esc(Notes[r.Best])}\"");
        console.AgentResult(r.Answer);
        var memory = manager.GetMemoryUsage();
        console.MarkupLine($"  in memory now: {string.Join(", ", memory.Models.Select(m => $"{m.Key} {AgentConsole.FormatMb(m.Value.ChargedBytes)}"))}" +
                           $" = {AgentConsole.FormatMb(memory.TotalBytes)} of {AgentConsole.FormatMb(memory.LimitBytes)}");
        Check($"{r.EmbeddingModel} embedded {r.Texts} texts in one call and {r.Answer.Model} answered, both held in one budget ({AgentConsole.FormatMb(memory.TotalBytes)} of {AgentConsole.FormatMb(memory.LimitBytes)})",
            r.EmbeddingModel == plan.EmbeddingModel && r.Answer.Model == plan.SharedModel && memory.Models.ContainsKey(plan.EmbeddingModel)
            && memory.Models.ContainsKey(plan.SharedModel) && memory.TotalBytes <= memory.LimitBytes);
        if (plan.RealEmbeddings)
        {
            Check($"the nearest note to the question is the one about eviction (cosine {r.Scores[0].ToString("F3", CultureInfo.InvariantCulture)}, next best {r.Scores.Skip(1).Max().ToString("F3", CultureInfo.InvariantCulture)})", r.Best == 0);
        }
    }

    private int ShowFinalState()
    {
        console.Section("7. Final state");
        console.StatsTable(manager.GetModelStats());
        console.MemoryTable(manager.GetMemoryUsage());

        foreach (var model in new[] { plan.SharedModel, plan.ReviewerModel, plan.CoderModel, plan.EmbeddingModel })
        {
            Check($"load progress reported up to 100% for {model}", events.ProgressCompleted(model));
        }

        console.Section("Checks");
        console.Checks(_checks);
        var failed = _checks.Count(c => !c.Passed);
        console.MarkupLine(failed == 0
            ? $"  [green bold]all {_checks.Count} checks passed[/]"
            : $"  [red bold]{failed} of {_checks.Count} checks failed[/]");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>Starts every job at once (in the order given), shows load progress meanwhile, then each agent's result.</summary>
    private async Task<AgentResult[]> RunTogetherAsync(CancellationToken cancellationToken, params (Agent Agent, string Task)[] jobs)
    {
        AgentResult[] results = [];
        await console.RunWithLoadProgressAsync(async () =>
            results = await Task.WhenAll(jobs.Select(job => job.Agent.RunAsync(job.Task, plan.MaxTokens, cancellationToken))));
        foreach (var result in results)
        {
            console.AgentResult(result);
        }

        return results;
    }

    private void Check(string description, bool passed) => _checks.Add((description, passed));
}
