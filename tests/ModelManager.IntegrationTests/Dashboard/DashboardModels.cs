using System.Text;

namespace ModelManager.IntegrationTests.Dashboard;

/// <summary>Configs over real stories260K files for the dashboard's tests: a budget that holds one copy of the model, not two.</summary>
internal static class DashboardModels
{
    /// <summary>The key the dashboard's servers require.</summary>
    public const string ApiKey = "dashboard-test-key";

    /// <summary>
    /// <c>stories</c> (the shared file, preloaded, priority 3), <c>stories-b</c> (a copy in a scratch folder, so the manager sees
    /// two files; priority 2, so it may evict <c>stories</c>), <c>broken</c> (a copy with a bad magic, falling back to <c>stories-b</c>)
    /// and two agents; 12 MB holds one 8.6 MB estimate, not two.
    /// </summary>
    public static string TwoStoriesConfig()
    {
        var scratch = TestCache.NewScratchDirectory();
        var copy = Path.Combine(scratch, "stories-b.gguf");
        File.Copy(SharedModels.Stories260K, copy);
        var broken = Path.Combine(scratch, "broken.gguf");
        var bytes = File.ReadAllBytes(SharedModels.Stories260K);
        bytes[3] = (byte)'X'; // GGUF -> GGUX
        File.WriteAllBytes(broken, bytes);
        return $$"""
            { "max_memory_mb": 12, "models": [
                {{Model("stories", SharedModels.Stories260K, 3, "\"preload\": true, \"max_idle_time\": 600")}},
                {{Model("stories-b", copy, 2, "\"max_idle_time\": 600")}},
                {{Model("broken", broken, 4, "\"fallbacks\": [\"stories-b\"]")}} ],
              "agents": {
                "StoryAgent": { "model": "stories", "fallbacks": ["stories-b"] },
                "ReviewerAgent": { "model": "broken", "fallbacks": ["stories-b"] } } }
            """;
    }

    /// <summary>A stories260K entry as <see cref="GgufManagers.Stories"/> writes it (context 256, parallel 8: an 8.6 MB estimate), for any file.</summary>
    public static string Model(string name, string path, int priority, string extra) =>
        $$"""{ "name": "{{name}}", "type": "gguf", "path": {{System.Text.Json.JsonSerializer.Serialize(path)}}, "context_length": 256, "parallel": 8, "memory_priority": {{priority}}, "parameters": { "do_sample": false, "max_tokens": 16 }, {{extra}} }""";

    /// <summary>A short chat call to <paramref name="model"/> through the API, which loads it (evicting what it must) or its fallback.</summary>
    public static Task<HttpResponseMessage> ChatAsync(HttpClient http, string model) =>
        http.PostAsync("v1/chat/completions", new StringContent(
            $$"""{"model":"{{model}}","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":8}""", Encoding.UTF8, "application/json"));
}
