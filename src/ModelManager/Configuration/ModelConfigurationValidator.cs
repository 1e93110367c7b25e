using System.Globalization;

namespace ModelManager;

/// <summary>Validates options against the registered backends, reporting every problem at once with its JSON path.</summary>
internal static class ModelConfigurationValidator
{
    private const long Mb = 1024 * 1024;

    /// <summary>Config types the project ships backends for, and the builder call that registers each.</summary>
    internal static readonly IReadOnlyDictionary<string, string> KnownTypes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["gguf"] = "builder.AddLlamaSharp() (package ModelManager.LlamaSharp)",
        ["huggingface"] = "builder.AddOnnxGenAI() (package ModelManager.OnnxGenAI)",
        ["onnx"] = "builder.AddOnnxGenAI() (package ModelManager.OnnxGenAI)",
        ["openai"] = "builder.AddOpenAI() (package ModelManager.OpenAI)",
        ["fake"] = "builder.AddFakeBackend() (package ModelManager.Testing)",
    };

    public static ValidatedConfiguration Validate(ModelManagerOptions options, IReadOnlyDictionary<string, IModelBackend> backends, bool checkPreloadFit = true)
    {
        var ctx = new ModelValidationContext();
        var errors = new List<string>(options.BindErrors);
        var warnings = new List<string>(options.BindWarnings);

        long limitBytes = 0;
        if (options.MaxMemoryMb is { } mb)
        {
            if (mb <= 0)
            {
                errors.Add($"max_memory_mb: must be greater than 0, got {mb}");
            }
            else if (mb > long.MaxValue / Mb)
            {
                errors.Add($"max_memory_mb: {mb} is too large");
            }
            else
            {
                limitBytes = mb * Mb;
                var machine = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes; // physical memory, or the container's limit
                if (machine > 0 && limitBytes > machine)
                {
                    warnings.Add($"max_memory_mb: {mb} MB is more than the {machine / Mb} MB this process can have (physical memory or its container's limit); " +
                                 "the budget cannot keep loads from running the machine out of memory");
                }
            }
        }
        else
        {
            limitBytes = DefaultLimitBytes();
        }

        if (!double.IsFinite(options.LoadWaitTimeout) || options.LoadWaitTimeout < 0 || options.LoadWaitTimeout > TimeSpan.MaxValue.TotalSeconds / 2)
        {
            errors.Add($"load_wait_timeout: must be 0 or more seconds, got {options.LoadWaitTimeout.ToString(CultureInfo.InvariantCulture)}");
        }

        if (!double.IsFinite(options.LoadTimeout) || options.LoadTimeout < 0 || options.LoadTimeout > TimeSpan.MaxValue.TotalSeconds / 2)
        {
            errors.Add($"load_timeout: must be 0 (no limit) or more seconds, got {options.LoadTimeout.ToString(CultureInfo.InvariantCulture)}");
        }

        if (!double.IsFinite(options.FailureCooldown) || options.FailureCooldown < 0 || options.FailureCooldown > TimeSpan.MaxValue.TotalSeconds / 2)
        {
            errors.Add($"failure_cooldown: must be 0 (retry every call) or more seconds, got {options.FailureCooldown.ToString(CultureInfo.InvariantCulture)}");
        }

        var baseDir = options.BaseDirectory ?? Directory.GetCurrentDirectory();
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        var descriptors = new List<ModelDescriptor>();
        for (var i = 0; i < options.Models.Count; i++)
        {
            var m = options.Models[i];
            var path = $"models[{i}]";
            if (m is null)
            {
                errors.Add($"{path}: must be an object");
                continue;
            }

            if (string.IsNullOrWhiteSpace(m.Name))
            {
                errors.Add($"{path}.name: must not be empty");
            }
            else if (byName.TryGetValue(m.Name, out var first))
            {
                errors.Add($"{path}.name: duplicate name '{m.Name}' (first used by models[{first}])");
            }
            else
            {
                byName[m.Name] = i;
            }

            var type = (m.Type ?? "").Trim().ToLowerInvariant();
            IModelBackend? backend = null;
            if (type.Length == 0)
            {
                errors.Add($"{path}.type: must not be empty; expected one of {string.Join(", ", KnownTypes.Keys)}");
            }
            else if (!backends.TryGetValue(type, out backend))
            {
                errors.Add(KnownTypes.TryGetValue(type, out var call)
                    ? $"{path}.type: '{m.Type}' has no registered backend; call {call}"
                    : $"{path}.type: unknown type '{m.Type}'; expected one of {string.Join(", ", KnownTypes.Keys)}");
            }

            if (m.ContextLength is < 1)
            {
                errors.Add($"{path}.context_length: must be at least 1, got {m.ContextLength}");
            }

            if (m.MemoryPriority is < 1 or > 5)
            {
                errors.Add($"{path}.memory_priority: must be between 1 (keep longest) and 5 (evict first), got {m.MemoryPriority}");
            }

            if (!double.IsFinite(m.MaxIdleTime) || m.MaxIdleTime < 0 || m.MaxIdleTime > TimeSpan.MaxValue.TotalSeconds / 2)
            {
                errors.Add($"{path}.max_idle_time: must be 0 (never) or more seconds, got {m.MaxIdleTime.ToString(CultureInfo.InvariantCulture)}");
            }

            if (m.MaxQueue < 0)
            {
                errors.Add($"{path}.max_queue: must be 0 (no limit) or more calls, got {m.MaxQueue}");
            }

            if (!double.IsFinite(m.QueueTimeout) || m.QueueTimeout < 0 || m.QueueTimeout > TimeSpan.MaxValue.TotalSeconds / 2)
            {
                errors.Add($"{path}.queue_timeout: must be 0 (no limit) or more seconds, got {m.QueueTimeout.ToString(CultureInfo.InvariantCulture)}");
            }

            ValidateParameters(m.Parameters ?? new GenerationOptions(), $"{path}.parameters", errors);

            var fallbacks = m.Fallbacks ?? [];
            var declared = ParseCapabilities(m.Capabilities, $"{path}.capabilities", errors);
            ModelDescriptor Describe(ModelCapabilities capabilities) => new ModelDescriptor(
                name: m.Name ?? "",
                type: backend?.Types[0] ?? type,
                path: ResolvePath(m.Path, baseDir),
                contextLength: m.ContextLength,
                parameters: (m.Parameters ?? new GenerationOptions()).Normalized(),
                memoryPriority: m.MemoryPriority,
                maxIdleTime: double.IsFinite(m.MaxIdleTime) && m.MaxIdleTime > 0 && m.MaxIdleTime < TimeSpan.MaxValue.TotalSeconds / 2
                    ? TimeSpan.FromSeconds(m.MaxIdleTime) : TimeSpan.Zero,
                preload: m.Preload,
                fallbacks: fallbacks.ToArray(),
                settings: new Dictionary<string, string?>(m.Settings ?? new Dictionary<string, string?>(), StringComparer.OrdinalIgnoreCase),
                configPath: path,
                maxQueue: Math.Max(m.MaxQueue, 0),
                queueTimeout: double.IsFinite(m.QueueTimeout) && m.QueueTimeout > 0 && m.QueueTimeout < TimeSpan.MaxValue.TotalSeconds / 2
                    ? TimeSpan.FromSeconds(m.QueueTimeout) : TimeSpan.Zero,
                capabilities: capabilities,
                capabilitiesDeclared: declared is not null);
            var descriptor = Describe(declared ?? ModelCapabilities.Chat);
            if (declared is null && backend is not null && backend.DetectCapabilities(descriptor) is var detected
                && detected != ModelCapabilities.None && detected != descriptor.Capabilities)
            {
                descriptor = Describe(detected);
            }

            descriptors.Add(descriptor);

            if (backend is not null)
            {
                foreach (var key in descriptor.Settings.Keys)
                {
                    if (!IsKnownSetting(key, backend.SettingKeys))
                    {
                        var shown = key.Replace(':', '.');
                        var candidates = ModelConfigurationBinder.ModelKeys.Concat(backend.SettingKeys.Where(k => !k.Contains(':')));
                        warnings.Add(key.StartsWith("parameters:", StringComparison.OrdinalIgnoreCase)
                            ? ModelConfigurationBinder.UnknownKey($"{path}.{shown}", key["parameters:".Length..],
                                ModelConfigurationBinder.ParameterKeys.Concat(backend.SettingKeys.Where(k => k.StartsWith("parameters:", StringComparison.Ordinal)).Select(k => k["parameters:".Length..])))
                            : ModelConfigurationBinder.UnknownKey($"{path}.{shown}", key.Split(':')[0], candidates));
                    }
                }

                try
                {
                    backend.Validate(descriptor, ctx);
                }
                catch (FormatException e)
                {
                    errors.Add(e.Message);
                }
            }
        }

        errors.AddRange(ctx.Errors);
        warnings.AddRange(ctx.Warnings);

        // Two entries over one local file load two copies of its weights; say so (sharing them is a different model with other settings).
        foreach (var group in descriptors.Where(d => d.Path is not null && !d.Path.Contains("://", StringComparison.Ordinal))
                     .GroupBy(d => (d.Type, Path: d.Path!), d => d).Where(g => g.Count() > 1))
        {
            var first = group.First();
            foreach (var other in group.Skip(1))
            {
                warnings.Add($"{other.ConfigPath}.path: '{other.Name}' names the same {other.Type} file as '{first.Name}' ({first.ConfigPath}); when both are loaded, the weights are in memory twice");
            }
        }

        // Fallback references and cycles.
        for (var i = 0; i < descriptors.Count; i++)
        {
            var d = descriptors[i];
            for (var k = 0; k < d.Fallbacks.Count; k++)
            {
                var f = d.Fallbacks[k];
                if (!byName.ContainsKey(f))
                {
                    errors.Add($"models[{i}].fallbacks[{k}]: unknown model '{f}'");
                }
                else if (f == d.Name)
                {
                    errors.Add($"models[{i}].fallbacks[{k}]: '{f}' cannot be its own fallback");
                }
            }
        }

        foreach (var cycle in FindCycles(descriptors, byName))
        {
            errors.Add($"models[{byName[cycle[0]]}].fallbacks: fallback cycle {string.Join(" -> ", cycle)}");
        }

        var agents = new Dictionary<string, AgentDescriptor>(StringComparer.Ordinal);
        foreach (var (agentName, agent) in options.Agents ?? new Dictionary<string, AgentDefinition>())
        {
            var path = $"agents.{agentName}";
            if (agent is null || string.IsNullOrWhiteSpace(agent.Model))
            {
                errors.Add($"{path}.model: must name a model");
                continue;
            }

            if (!byName.ContainsKey(agent.Model))
            {
                errors.Add($"{path}.model: unknown model '{agent.Model}'");
            }

            var fallbacks = agent.Fallbacks ?? [];
            for (var k = 0; k < fallbacks.Count; k++)
            {
                if (!byName.ContainsKey(fallbacks[k]))
                {
                    errors.Add($"{path}.fallbacks[{k}]: unknown model '{fallbacks[k]}'");
                }
            }

            agents[agentName] = new AgentDescriptor(agentName, agent.Model, fallbacks.ToArray());
        }

        if (options.DefaultModel is { Length: > 0 } dm && !byName.ContainsKey(dm))
        {
            errors.Add($"default_model: unknown model '{dm}'");
        }

        if (options.Models.Count == 0)
        {
            warnings.Add("models: no models are configured");
        }

        if (errors.Count == 0 && checkPreloadFit && limitBytes > 0)
        {
            CheckPreloadFits(descriptors, backends, limitBytes, errors, warnings);
        }

        if (errors.Count > 0)
        {
            throw new ModelConfigurationException(errors, warnings, options.Source);
        }

        return new ValidatedConfiguration(
            descriptors, agents, options.DefaultModel is { Length: > 0 } ? options.DefaultModel : null,
            limitBytes, TimeSpan.FromSeconds(options.LoadWaitTimeout),
            options.LoadTimeout > 0 ? TimeSpan.FromSeconds(options.LoadTimeout) : Timeout.InfiniteTimeSpan, TimeSpan.FromSeconds(options.FailureCooldown), warnings);
    }

    internal static long DefaultLimitBytes()
    {
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return available > 0 ? available / 4 * 3 : 8192 * Mb;
    }

    private static void ValidateParameters(GenerationOptions p, string path, List<string> errors)
    {
        if (p.Temperature is { } t && (!double.IsFinite(t) || t < 0))
        {
            errors.Add($"{path}.temperature: must be 0 or more, got {t.ToString(CultureInfo.InvariantCulture)}");
        }

        if (p.MaxTokens is < 1)
        {
            errors.Add($"{path}.max_tokens: must be at least 1, got {p.MaxTokens}");
        }

        if (p.TopP is { } tp && (!double.IsFinite(tp) || tp < 0 || tp > 1))
        {
            errors.Add($"{path}.top_p: must be between 0 and 1, got {tp.ToString(CultureInfo.InvariantCulture)}");
        }

        if (p.TopK is < 0)
        {
            errors.Add($"{path}.top_k: must be 0 or more, got {p.TopK}");
        }

        var stops = p.StopSequences ?? [];
        for (var i = 0; i < stops.Count; i++)
        {
            if (string.IsNullOrEmpty(stops[i]))
            {
                errors.Add($"{path}.stop[{i}]: must not be empty");
            }
        }
    }

    private static bool IsKnownSetting(string key, IReadOnlyCollection<string> known)
    {
        foreach (var k in known)
        {
            if (key.Equals(k, StringComparison.OrdinalIgnoreCase) || key.StartsWith(k + ":", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static string? ResolvePath(string? path, string baseDir)
    {
        if (string.IsNullOrWhiteSpace(path) || path.Contains("://", StringComparison.Ordinal))
        {
            return string.IsNullOrWhiteSpace(path) ? null : path;
        }

        if (path.StartsWith("~/", StringComparison.Ordinal))
        {
            path = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[2..]);
        }

        return Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(baseDir, path));
    }

    private static List<List<string>> FindCycles(List<ModelDescriptor> models, Dictionary<string, int> byName)
    {
        var cycles = new List<List<string>>();
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 = on stack, 2 = done
        var stack = new List<string>();
        var reported = new HashSet<string>(StringComparer.Ordinal);

        void Visit(string name)
        {
            state[name] = 1;
            stack.Add(name);
            foreach (var f in models[byName[name]].Fallbacks)
            {
                if (!byName.ContainsKey(f) || f == name)
                {
                    continue;
                }

                if (!state.TryGetValue(f, out var s))
                {
                    Visit(f);
                }
                else if (s == 1)
                {
                    var cycle = stack.Skip(stack.IndexOf(f)).Append(f).ToList();
                    var key = string.Join(",", cycle.Skip(1).Order(StringComparer.Ordinal));
                    if (reported.Add(key))
                    {
                        cycles.Add(cycle);
                    }
                }
            }

            stack.RemoveAt(stack.Count - 1);
            state[name] = 2;
        }

        foreach (var name in byName.Keys)
        {
            if (!state.ContainsKey(name))
            {
                Visit(name);
            }
        }

        return cycles;
    }

    private static void CheckPreloadFits(List<ModelDescriptor> models, IReadOnlyDictionary<string, IModelBackend> backends, long limitBytes, List<string> errors, List<string> warnings)
    {
        long total = 0;
        var parts = new List<string>();
        foreach (var m in models.Where(m => m.Preload))
        {
            try
            {
                // Validation is synchronous (the manager's constructor, IValidateOptions); estimates read file headers and
                // complete synchronously in every backend that has files, so this waits on no I/O in practice.
#pragma warning disable RS0030 // Banned API: see above
                var bytes = backends[m.Type].EstimateBytesAsync(m, CancellationToken.None).AsTask().GetAwaiter().GetResult();
#pragma warning restore RS0030
                total += bytes;
                parts.Add($"{m.Name} {bytes / (double)Mb:F0} MB");
            }
            catch (Exception e) when (e is ModelLoadException or IOException or FormatException or UnauthorizedAccessException)
            {
                warnings.Add($"{m.ConfigPath}: cannot estimate the preloaded model '{m.Name}': {e.Message}");
            }
        }

        if (total > limitBytes)
        {
            errors.Add($"max_memory_mb: the preloaded models need {total / (double)Mb:F0} MB ({string.Join(", ", parts)}) but the budget is {limitBytes / Mb} MB");
        }
    }

    /// <summary>The config's <c>capabilities</c> (<c>"chat"</c>, <c>"embeddings"</c>), or null when the key is absent.</summary>
    private static ModelCapabilities? ParseCapabilities(IList<string>? values, string path, List<string> errors)
    {
        if (values is null)
        {
            return null;
        }

        var capabilities = ModelCapabilities.None;
        for (var i = 0; i < values.Count; i++)
        {
            switch (values[i]?.Trim().ToLowerInvariant())
            {
                case "chat" or "completion" or "generation": capabilities |= ModelCapabilities.Chat; break;
                case "embeddings" or "embedding": capabilities |= ModelCapabilities.Embeddings; break;
                default: errors.Add($"{path}[{i}]: unknown capability '{values[i]}'; expected \"chat\" or \"embeddings\""); break;
            }
        }

        if (values.Count == 0)
        {
            errors.Add($"{path}: must name at least one of \"chat\", \"embeddings\" (omit the key to detect them from the model)");
        }

        return capabilities == ModelCapabilities.None ? ModelCapabilities.Chat : capabilities;
    }
}
