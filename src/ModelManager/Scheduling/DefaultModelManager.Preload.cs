namespace ModelManager;

internal sealed partial class DefaultModelManager
{
    /// <summary>Loads every <c>preload: true</c> model, most important first; failures are logged and reported as LoadFailed, not thrown.</summary>
    internal Task PreloadAsync(CancellationToken cancellationToken) => PreloadAsync(_config.Models.Where(e => e.Descriptor.Preload), cancellationToken);

    private async Task PreloadAsync(IEnumerable<ModelEntry> entries, CancellationToken cancellationToken)
    {
        foreach (var entry in entries.OrderBy(e => e.Priority))
        {
            try
            {
                var lease = await AcquireSlowAsync(entry, cancellationToken).ConfigureAwait(false);
                Release(lease.Entry);
            }
            catch (Exception e) when (e is ModelLoadException or ModelNotFoundException or ObjectDisposedException)
            {
                Log.PreloadFailed(_logger, entry.Name, e);
            }
        }
    }
}
