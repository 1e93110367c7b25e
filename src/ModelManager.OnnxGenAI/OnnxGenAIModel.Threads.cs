namespace ModelManager;

// Generation threads: long-lived, at most one per parallel slot, started on first use and ended when the model is released.
internal sealed partial class OnnxGenAIModel
{
    /// <summary>Runs each generation on one of the model's own threads, which stay for the next generation.</summary>
    /// <remarks>
    /// Thread-safe. A new thread per generation cost ~11% of tiny-random-gpt2's tokens/s (the benchmark's onnx-new-thread
    /// row): ONNX Runtime's per-thread state and the allocator's per-thread arena start cold on a fresh thread. The slots
    /// semaphore bounds the generations in flight, so at most <c>parallel</c> threads ever start. Background threads: they
    /// never keep the process alive, and they end once <see cref="Complete"/> is called and their work is done.
    /// </remarks>
    private sealed class GenerationThreads(string modelName, int maxThreads)
    {
        private readonly Queue<Func<Action>> _work = new();
        private int _threads;

        /// <summary>Threads not running work: waiting, about to wait, or started and not yet running.</summary>
        private int _idle;
        private bool _completed;

        /// <summary>Generation threads alive now.</summary>
        public int Count
        {
            get
            {
                lock (_work)
                {
                    return _threads;
                }
            }
        }

        /// <summary>
        /// Runs <paramref name="work"/> on an idle generation thread, a new one if none is idle and fewer than the maximum
        /// run, else on the first to finish; then, once that thread counts as idle again, the action the work returned.
        /// </summary>
        /// <remarks>
        /// The work returns its completion instead of signalling it, so that a caller who runs its next generation as soon as it
        /// hears of the last one finds the thread idle, instead of starting a second (the thread had not yet counted itself
        /// idle). Neither <paramref name="work"/> nor the action it returns may throw: nothing observes them.
        /// </remarks>
        public void Run(Func<Action> work)
        {
            lock (_work)
            {
                ObjectDisposedException.ThrowIf(_completed, this);
                _work.Enqueue(work);
                if (_work.Count > _idle && _threads < maxThreads)
                {
                    _threads++;
                    _idle++;
                    new Thread(Loop) { IsBackground = true, Name = $"ModelManager onnx {modelName}" }.Start();
                }

                Monitor.PulseAll(_work); // a few threads at most; an idle thread not yet waiting sees the queue before it waits
            }
        }

        /// <summary>Ends every thread once the work queued so far is done; the model's native objects are gone.</summary>
        public void Complete()
        {
            lock (_work)
            {
                _completed = true;
                Monitor.PulseAll(_work);
            }
        }

        private void Loop()
        {
            while (true)
            {
                Func<Action> work;
                lock (_work)
                {
                    while (_work.Count == 0)
                    {
                        if (_completed)
                        {
                            _threads--;
                            _idle--;
                            return;
                        }

                        Monitor.Wait(_work);
                    }

                    work = _work.Dequeue();
                    _idle--;
                }

                var done = work();
                lock (_work)
                {
                    _idle++;
                }

                done();
            }
        }
    }
}
