using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace ModelManager;

/// <summary>Binds the snake_case schema from <see cref="IConfiguration"/>, collecting every type error with its JSON path.</summary>
/// <remarks>Hand-written rather than ConfigurationBinder so that a bad value names its path and the rest still binds.</remarks>
internal static class ModelConfigurationBinder
{
    internal static readonly string[] TopLevelKeys = ["max_memory_mb", "default_model", "load_wait_timeout", "load_timeout", "failure_cooldown", "models", "agents"];
    internal static readonly string[] ModelKeys = ["name", "type", "path", "context_length", "parameters", "memory_priority", "max_idle_time", "max_queue", "queue_timeout", "preload", "fallbacks", "capabilities"];
    internal static readonly string[] ParameterKeys = ["temperature", "max_tokens", "do_sample", "top_p", "top_k", "seed", "stop"];
    internal static readonly string[] AgentKeys = ["model", "fallbacks"];

    public static void Bind(IConfiguration configuration, ModelManagerOptions options)
    {
        var errors = options.BindErrors;
        foreach (var child in configuration.GetChildren())
        {
            switch (child.Key.ToLowerInvariant())
            {
                case "max_memory_mb": options.MaxMemoryMb = ReadInt64(child, child.Key, errors) ?? options.MaxMemoryMb; break;
                case "default_model": options.DefaultModel = ReadString(child, child.Key, errors) ?? options.DefaultModel; break;
                case "load_wait_timeout": options.LoadWaitTimeout = ReadDouble(child, child.Key, errors) ?? options.LoadWaitTimeout; break;
                case "load_timeout": options.LoadTimeout = ReadDouble(child, child.Key, errors) ?? options.LoadTimeout; break;
                case "failure_cooldown": options.FailureCooldown = ReadDouble(child, child.Key, errors) ?? options.FailureCooldown; break;
                case "models": BindModels(child, options, errors); break;
                case "agents": BindAgents(child, options, errors); break;
                default:
                    options.BindWarnings.Add(UnknownKey(child.Key, child.Key, TopLevelKeys));
                    break;
            }
        }
    }

    private static void BindModels(IConfigurationSection section, ModelManagerOptions options, List<string> errors)
    {
        if (!TryGetArray(section, "models", errors, out var items))
        {
            return;
        }

        foreach (var (index, item) in items)
        {
            var path = $"models[{index}]";
            if (item.Value is not null)
            {
                errors.Add($"{path}: expected an object, got '{item.Value}'");
                continue;
            }

            var model = new ModelDefinition();
            foreach (var child in item.GetChildren())
            {
                var key = child.Key.ToLowerInvariant();
                var childPath = $"{path}.{child.Key}";
                switch (key)
                {
                    case "name": model.Name = ReadString(child, childPath, errors) ?? ""; break;
                    case "type": model.Type = ReadString(child, childPath, errors) ?? ""; break;
                    case "path": model.Path = ReadString(child, childPath, errors); break;
                    case "context_length": model.ContextLength = ReadInt32(child, childPath, errors); break;
                    case "memory_priority": model.MemoryPriority = ReadInt32(child, childPath, errors) ?? model.MemoryPriority; break;
                    case "max_idle_time": model.MaxIdleTime = ReadDouble(child, childPath, errors) ?? model.MaxIdleTime; break;
                    case "max_queue": model.MaxQueue = ReadInt32(child, childPath, errors) ?? model.MaxQueue; break;
                    case "queue_timeout": model.QueueTimeout = ReadDouble(child, childPath, errors) ?? model.QueueTimeout; break;
                    case "preload": model.Preload = ReadBool(child, childPath, errors) ?? false; break;
                    case "fallbacks": model.Fallbacks = ReadStringList(child, childPath, errors); break;
                    case "capabilities": model.Capabilities = child.Value is { Length: > 0 } one ? [one] : ReadStringList(child, childPath, errors); break;
                    case "parameters": BindParameters(child, childPath, model, errors); break;
                    default: Flatten(child, child.Key, model.Settings); break;
                }
            }

            options.Models.Add(model);
        }
    }

    private static void BindParameters(IConfigurationSection section, string path, ModelDefinition model, List<string> errors)
    {
        if (section.Value is not null)
        {
            errors.Add($"{path}: expected an object, got '{section.Value}'");
            return;
        }

        var p = model.Parameters;
        foreach (var child in section.GetChildren())
        {
            var childPath = $"{path}.{child.Key}";
            switch (child.Key.ToLowerInvariant())
            {
                case "temperature": p.Temperature = ReadDouble(child, childPath, errors); break;
                case "max_tokens": p.MaxTokens = ReadInt32(child, childPath, errors); break;
                case "do_sample": p.DoSample = ReadBool(child, childPath, errors); break;
                case "top_p": p.TopP = ReadDouble(child, childPath, errors); break;
                case "top_k": p.TopK = ReadInt32(child, childPath, errors); break;
                case "seed": p.Seed = ReadInt64(child, childPath, errors); break;
                case "stop":
                    p.StopSequences = child.Value is { } single ? [single] : ReadStringList(child, childPath, errors);
                    break;
                default: Flatten(child, "parameters:" + child.Key, model.Settings); break;
            }
        }
    }

    private static void BindAgents(IConfigurationSection section, ModelManagerOptions options, List<string> errors)
    {
        if (section.Value is { Length: > 0 })
        {
            errors.Add($"agents: expected an object of agent name → {{ \"model\": ... }}, got '{section.Value}'");
            return;
        }

        foreach (var agentSection in section.GetChildren())
        {
            var path = $"agents.{agentSection.Key}";
            var agent = new AgentDefinition();
            if (agentSection.Value is { } shorthand)
            {
                agent.Model = shorthand; // "Agent": "Model" is accepted as shorthand.
            }

            foreach (var child in agentSection.GetChildren())
            {
                var childPath = $"{path}.{child.Key}";
                switch (child.Key.ToLowerInvariant())
                {
                    case "model": agent.Model = ReadString(child, childPath, errors) ?? ""; break;
                    case "fallbacks": agent.Fallbacks = ReadStringList(child, childPath, errors); break;
                    default: options.BindWarnings.Add(UnknownKey(childPath, child.Key, AgentKeys)); break;
                }
            }

            options.Agents[agentSection.Key] = agent;
        }
    }

    private static bool TryGetArray(IConfigurationSection section, string path, List<string> errors, out List<(int Index, IConfigurationSection Item)> items)
    {
        items = [];
        if (section.Value is { Length: > 0 })
        {
            errors.Add($"{path}: expected an array, got '{section.Value}'");
            return false;
        }

        foreach (var child in section.GetChildren())
        {
            if (!int.TryParse(child.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                errors.Add($"{path}: expected an array, got an object (key '{child.Key}')");
                return false;
            }

            items.Add((index, child));
        }

        items.Sort((a, b) => a.Index.CompareTo(b.Index));
        return true;
    }

    private static void Flatten(IConfigurationSection section, string key, IDictionary<string, string?> target)
    {
        if (section.Value is not null || !section.GetChildren().Any())
        {
            target[key] = section.Value;
            return;
        }

        foreach (var child in section.GetChildren())
        {
            Flatten(child, key + ":" + child.Key, target);
        }
    }

    private static string? ReadString(IConfigurationSection s, string path, List<string> errors)
    {
        if (s.Value is null && s.GetChildren().Any())
        {
            errors.Add($"{path}: expected a string, got an object or array");
            return null;
        }

        return s.Value;
    }

    private static List<string> ReadStringList(IConfigurationSection s, string path, List<string> errors)
    {
        if (s.Value is { Length: > 0 } v)
        {
            errors.Add($"{path}: expected an array of names, got '{v}'");
            return [];
        }

        if (!TryGetArray(s, path, errors, out var items))
        {
            return [];
        }

        var list = new List<string>();
        foreach (var (index, item) in items)
        {
            if (item.Value is null)
            {
                errors.Add($"{path}[{index}]: expected a string, got an object or array");
                continue;
            }

            list.Add(item.Value);
        }

        return list;
    }

    private static long? ReadInt64(IConfigurationSection s, string path, List<string> errors) =>
        Read<long>(s, path, errors, "an integer", v => long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : null);

    private static int? ReadInt32(IConfigurationSection s, string path, List<string> errors) =>
        Read<int>(s, path, errors, "an integer", v => int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : null);

    private static double? ReadDouble(IConfigurationSection s, string path, List<string> errors) =>
        Read<double>(s, path, errors, "a number", v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && double.IsFinite(n) ? n : null);

    private static bool? ReadBool(IConfigurationSection s, string path, List<string> errors) =>
        Read<bool>(s, path, errors, "true or false", v => bool.TryParse(v, out var b) ? b : null);

    private static T? Read<T>(IConfigurationSection s, string path, List<string> errors, string expected, Func<string, T?> parse)
        where T : struct
    {
        if (s.Value is null)
        {
            if (s.GetChildren().Any())
            {
                errors.Add($"{path}: expected {expected}, got an object or array");
            }

            return null;
        }

        if (s.Value.Length == 0)
        {
            return null; // JSON null: not set.
        }

        var parsed = parse(s.Value);
        if (parsed is null)
        {
            errors.Add($"{path}: '{s.Value}' is not {expected}");
        }

        return parsed;
    }

    internal static string UnknownKey(string path, string key, IEnumerable<string> known)
    {
        var best = known
            .Select(k => (Key: k, Distance: Levenshtein(key.ToLowerInvariant(), k)))
            .Where(x => x.Distance <= Math.Max(2, x.Key.Length / 3))
            .OrderBy(x => x.Distance)
            .Select(x => x.Key)
            .FirstOrDefault();
        return best is null ? $"{path}: unknown key '{key}' is ignored" : $"{path}: unknown key '{key}' is ignored (did you mean '{best}'?)";
    }

    private static int Levenshtein(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            prev[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            (prev, cur) = (cur, prev);
        }

        return prev[b.Length];
    }
}
