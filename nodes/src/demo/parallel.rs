//! The demo driver's file work (837s and 835s rendered, written and read back) spread over the
//! cores: a day's files are independent of one another, and while the driver renders them
//! nothing else runs, so one core would otherwise idle.

/// `work` on every item, spread over the machine's cores, results in item order.
pub(super) fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<R>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(items.len()).max(1);
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(work).collect::<anyhow::Result<Vec<R>>>()))
            .collect();
        let mut results = Vec::with_capacity(items.len());
        for handle in handles {
            let part = handle.join().map_err(|_| anyhow::anyhow!("a file worker panicked"))??;
            results.extend(part);
        }
        Ok(results)
    })
}
