namespace ModelManager;

internal sealed partial class DefaultModelManager
{
    /// <summary>Loads every <c>preload: true</c> model, most important first; failures are logged and reported as LoadFailed, not thrown.</summary>
    internal async Task PreloadAsync(CancellationToken cancellationToken)
    {
        foreach (var entry in _entryList.Where(e => e.Descriptor.Preload).OrderBy(e => e.Priority))
        {
            try
            {
                var lease = await AcquireSlowAsync(entry, cancellationToken).ConfigureAwait(false);
                Release(lease.Entry);
            }
            catch (ModelLoadException e)
            {
                Log.PreloadFailed(_logger, entry.Name, e);
            }
        }
    }
}
