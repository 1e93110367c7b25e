namespace ModelManager.IntegrationTests;

/// <summary>Force-unloads a model while streams on it are held open mid-generation, for the gguf and the huggingface backend tests.</summary>
internal static class ForceUnloadProbe
{
    /// <summary>Starts one stream per prompt, holds each after its second piece, force-unloads the model meanwhile, then lets them go on.</summary>
    /// <returns>For each stream, the pieces it got and the exception that ended it (null when it ended normally).</returns>
    public static async Task<(int Pieces, Exception? Error)[]> RunAsync(IModelManager manager, string modelName, IReadOnlyList<string> prompts, int maxTokens, TimeSpan timeout)
    {
        var model = manager.GetModel(modelName);
        var started = new SemaphoreSlim(0);
        var resume = new TaskCompletionSource();

        async Task<(int Pieces, Exception? Error)> Stream(string prompt)
        {
            var n = 0;
            try
            {
                await foreach (var __ in model.GenerateStreamingAsync(prompt, new GenerationOptions { MaxTokens = maxTokens }))
                {
                    if (++n == 2)
                    {
                        started.Release();
                        await resume.Task; // hold the stream open, mid-generation, until the unload has begun
                    }
                }

                return (n, null);
            }
            catch (Exception e)
            {
                return (n, e);
            }
        }

        var streams = prompts.Select(p => Task.Run(() => Stream(p))).ToArray();
        for (var i = 0; i < streams.Length; i++)
        {
            Assert.True(await started.WaitAsync(timeout));
        }

        var unload = manager.UnloadModelAsync(modelName, force: true);
        resume.SetResult();
        Assert.True(await unload.WaitAsync(timeout));
        return await Task.WhenAll(streams);
    }
}
