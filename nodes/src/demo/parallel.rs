//! The demo driver's file work (837s and 835s rendered, written and read back) spread over the
//! cores: a day's files are independent of one another, and while the driver renders them
//! nothing else runs, so one core would otherwise idle.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// `work` on every item, spread over the machine's cores, results in item order. Each thread
/// takes the next item not yet taken: the files differ in size by two orders of magnitude
/// (the first weeks' 835s pay most claims), and halves cut in item order gave one thread
/// nine tenths of the replay's bytes. The first error stops the threads from taking more.
pub(super) fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<R>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(items.len());
    if threads <= 1 {
        return items.iter().map(work).collect();
    }
    let (next, failed) = (AtomicUsize::new(0), AtomicBool::new(false));
    let taking = || {
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else { break };
            match work(item) {
                Ok(result) => done.push((index, result)),
                Err(error) => {
                    failed.store(true, Ordering::Relaxed);
                    return Err(error);
                }
            }
        }
        Ok(done)
    };
    let parts = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(taking)).collect();
        handles.into_iter().map(|handle| handle.join()).collect::<Vec<_>>()
    });
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    for part in parts {
        let part = part.map_err(|_| anyhow::anyhow!("a file worker panicked"))??;
        for (index, result) in part {
            slots[index] = Some(result);
        }
    }
    slots.into_iter().map(|slot| slot.ok_or_else(|| anyhow::anyhow!("a file was left undone"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order_however_uneven_the_work() {
        let items: Vec<u64> = (0..200).collect();
        // The first items are slow: a thread that took them must not hold up the order.
        let squares = in_parallel(&items, |item| {
            if *item < 4 {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(item * item)
        })
        .unwrap();
        assert_eq!(squares, items.iter().map(|item| item * item).collect::<Vec<_>>());
        assert!(in_parallel(&[] as &[u64], |item| Ok(*item)).unwrap().is_empty());
        assert_eq!(in_parallel(&[7u64], |item| Ok(*item + 1)).unwrap(), vec![8]);
    }

    #[test]
    fn slow_items_at_the_front_are_shared_between_the_threads() {
        if std::thread::available_parallelism().map_or(1, usize::from) < 2 {
            return; // one thread does everything: nothing to share
        }
        // The first half is slow, as the first weeks' 835s are: fixed halves gave all of it to
        // one thread.
        let items: Vec<u64> = (0..40).collect();
        let threads = in_parallel(&items, |item| {
            if *item < 20 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Ok(std::thread::current().id())
        })
        .unwrap();
        let slow: std::collections::HashSet<_> = threads[..20].iter().collect();
        assert!(slow.len() >= 2, "one thread took every slow item");
    }

    #[test]
    fn an_error_is_returned_and_stops_the_work() {
        let items: Vec<u64> = (0..10_000).collect();
        let taken = AtomicUsize::new(0);
        let result = in_parallel(&items, |item| {
            taken.fetch_add(1, Ordering::Relaxed);
            if *item == 3 {
                anyhow::bail!("file {item} is unreadable")
            }
            std::thread::sleep(std::time::Duration::from_micros(50));
            Ok(*item)
        });
        assert_eq!(result.unwrap_err().to_string(), "file 3 is unreadable");
        // Item 3 fails at once; every other thread stops at its next item.
        assert!(taken.load(Ordering::Relaxed) < 100, "the threads went on after the error");
    }
}
