using CsCheck;

namespace ModelManager.Tests;

/// <summary>Scheduler invariants over random operation sequences, shrunk to a minimal failing sequence by CsCheck.</summary>
public sealed class SchedulerPropertyTests
{
    private enum Op { Acquire, Release, Generate, Load, Unload, ForceUnload, SetLimit, Advance }

    private static readonly Gen<(Op Op, int Model, int Arg)> GenStep =
        Gen.Select(Gen.Enum<Op>(), Gen.Int[0, 4], Gen.Int[1, 100]);

    [Fact]
    public void RandomSequences_KeepTheBudgetLeasesAndLifecycleConsistent() =>
        GenStep.Array[1, 40].Sample(steps => { try { Task.Run(() => Run(steps)).WaitAsync(TimeSpan.FromSeconds(2)).GetAwaiter().GetResult(); } catch (TimeoutException) { throw new TimeoutException(string.Join(", ", steps)); } }, iter: 400, threads: 1);

    private static async Task Run((Op Op, int Model, int Arg)[] steps)
    {
        var time = new FakeTimeProvider();
        var json = Config(60,
            Fake("m0", 10, priority: 1, idle: 30),
            Fake("m1", 20, priority: 2),
            Fake("m2", 25, priority: 5, idle: 10),
            Fake("m3", 15, priority: 3, parameters: "\"actual_size_mb\": 18"),
            Fake("m4", 5, priority: 4)).Replace("\"load_wait_timeout\": 1", "\"load_wait_timeout\": 0", StringComparison.Ordinal);
        var (m, backend) = FromJson(json, time);
        var held = new List<ModelLease>();
        var names = new[] { "m0", "m1", "m2", "m3", "m4" };

        foreach (var (op, model, arg) in steps)
        {
            var name = names[model];
            try
            {
                switch (op)
                {
                    case Op.Acquire:
                        held.Add(await m.AcquireAsync(name));
                        break;
                    case Op.Release when held.Count > 0:
                        var i = arg % held.Count;
                        held[i].Dispose();
                        held.RemoveAt(i);
                        break;
                    case Op.Generate:
                        Assert.Equal(FakeModelInstance.Expected(name, "p", 2), await m.GetModel(name).GenerateAsync("p", new GenerationOptions { MaxTokens = 2 }));
                        break;
                    case Op.Load:
                        await m.LoadModelAsync(name);
                        break;
                    case Op.Unload when !held.Any(l => l.ModelName == name):
                        await m.UnloadModelAsync(name);
                        break;
                    case Op.ForceUnload when !held.Any(l => l.ModelName == name):
                        await m.UnloadModelAsync(name, force: true);
                        break;
                    case Op.SetLimit:
                        m.SetMemoryLimit(20 + arg);
                        break;
                    case Op.Advance:
                        time.Advance(TimeSpan.FromSeconds(arg));
                        break;
                }
            }
            catch (ModelMemoryException)
            {
                // Documented: no room could be made without waiting (load_wait_timeout is 0).
            }

            Check(m, backend, held);
        }

        foreach (var lease in held)
        {
            lease.Dispose();
        }

        await m.ShutdownAsync();
        Assert.Equal(0, backend.LiveInstances);
        Assert.Equal(0, m.GetMemoryUsage().TotalBytes);
    }

    private static void Check(DefaultModelManager m, FakeModelBackend backend, List<ModelLease> held)
    {
        var usage = m.GetMemoryUsage();
        var stats = m.GetModelStats();
        var ready = stats.Values.Where(s => s.State == ModelState.Ready).ToList();

        // The budget is the sum of what each loaded model is charged: the larger of estimate and actual.
        Assert.Equal(usage.Models.Values.Sum(x => x.ChargedBytes), usage.TotalBytes);
        Assert.All(usage.Models, kv => Assert.Equal(Math.Max(kv.Value.EstimatedBytes, kv.Value.ActualBytes), kv.Value.ChargedBytes));
        Assert.Equal(ready.Select(s => s.Name).Order(), usage.Models.Keys.Order());

        // Over the limit only while leased models hold memory (after a lowered limit); never an idle model.
        if (usage.TotalBytes > usage.LimitBytes)
        {
            Assert.All(ready, s => Assert.True(s.ActiveLeases > 0, $"{s.Name} is idle while the budget is over its limit"));
        }

        // Leases: the manager counts exactly the leases the test holds, and a leased model is loaded.
        foreach (var s in stats.Values)
        {
            Assert.Equal(held.Count(l => l.ModelName == s.Name), s.ActiveLeases);
        }

        Assert.All(held, l => Assert.Equal(ModelState.Ready, stats[l.ModelName].State));

        // Native memory: exactly the loaded models' instances are alive, none freed in use, none used after unload.
        Assert.Equal(ready.Count, backend.LiveInstances);
        Assert.Equal(usage.Models.Values.Sum(x => x.ActualBytes), backend.LiveBytes);
        Assert.Equal(0, backend.FreedWhileInUseCount);
        Assert.Equal(0, backend.UseAfterUnloadCount);
    }
}
