//! Buffers handed back from the engine to the threads that prepare events.
//!
//! Every prepared event needs a body, and some a route list longer than fits inline,
//! and every chunk of prepared events a list to hold them, allocated on a preparing
//! thread and done with on the engine's thread. Freeing memory that another thread
//! allocated is the costly path of any allocator, and allocating is not free either:
//! instead the engine gives finished buffers back ([`give_back`], [`give_back_chunk`])
//! and preparing threads take them again ([`body`], [`routes`], [`chunk`]), bodies and
//! route lists in batches through one lock. The pools are bounded: what does not fit is
//! freed as usual.

use std::cell::RefCell;
use std::sync::Mutex;

use super::produce::{INLINE_ROUTES, Prepared, Routes};

/// Capacity of a fresh event body (most events fit; bigger ones grow once).
pub const BODY_CAPACITY: usize = 512;
/// Largest body kept for reuse (bigger ones are freed, so one huge event does not pin
/// its memory).
const MAX_KEPT_BODY: usize = 16 * 1024;
/// Most buffers of each kind kept in the shared pools.
const POOL_LIMIT: usize = 32 * 1024;
/// How many buffers a preparing thread takes from a pool at once.
const TAKE: usize = 256;

/// Most chunk lists kept (a few batches' worth: more are never in use at once).
const CHUNK_LIMIT: usize = 64;
/// Largest chunk list kept, in events (a whole batch prepared at once is not kept, so
/// the pool holds at most a few megabytes).
const MAX_KEPT_CHUNK: usize = 512;

/// Finished bodies and route lists, emptied, waiting for a preparing thread.
static BODIES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static ROUTES: Mutex<Vec<Routes>> = Mutex::new(Vec::new());
/// Used-up chunk lists. A fresh one is fresh memory, and first touching it costs page
/// faults (the allocator returns freed pages to the system after a while).
static CHUNKS: Mutex<Vec<Vec<Prepared>>> = Mutex::new(Vec::new());

thread_local! {
    /// This thread's share of the pools.
    static LOCAL: RefCell<(Vec<String>, Vec<Routes>)> =
        const { RefCell::new((Vec::new(), Vec::new())) };
}

/// An empty body with room for a typical event: a reused one when there is one.
pub fn body() -> String {
    take(|local| &mut local.0, &BODIES).unwrap_or_else(|| String::with_capacity(BODY_CAPACITY))
}

/// An empty route list with room for `n` routes: inline when they fit, else a reused
/// one when there is one.
pub fn routes(n: usize) -> Routes {
    if n <= INLINE_ROUTES {
        return Routes::new();
    }
    let mut list = take(|local| &mut local.1, &ROUTES).unwrap_or_default();
    list.reserve(n);
    list
}

/// An empty list for a chunk of `n` prepared events: a used one when there is one.
pub fn chunk(n: usize) -> Vec<Prepared> {
    let mut list = CHUNKS
        .lock()
        .ok()
        .and_then(|mut pool| pool.pop())
        .unwrap_or_default();
    list.reserve(n);
    list
}

/// Gives a used-up chunk list back (it is emptied here).
pub fn give_back_chunk(mut list: Vec<Prepared>) {
    list.clear();
    if list.capacity() == 0 || list.capacity() > MAX_KEPT_CHUNK {
        return;
    }
    if let Ok(mut pool) = CHUNKS.lock()
        && pool.len() < CHUNK_LIMIT
    {
        pool.push(list);
    }
}

/// Whether a finished body is worth giving back.
pub fn keeps(body: &String) -> bool {
    (BODY_CAPACITY..=MAX_KEPT_BODY).contains(&body.capacity())
}

/// Gives finished buffers back (emptied here); leaves `bodies` and `routes` empty.
pub fn give_back(bodies: &mut Vec<String>, routes: &mut Vec<Routes>) {
    for body in bodies.iter_mut() {
        body.clear();
    }
    for list in routes.iter_mut() {
        list.clear();
    }
    put(bodies, &BODIES);
    put(routes, &ROUTES);
}

fn take<T>(
    local: impl Fn(&mut (Vec<String>, Vec<Routes>)) -> &mut Vec<T>,
    pool: &Mutex<Vec<T>>,
) -> Option<T> {
    LOCAL
        .try_with(|cell| {
            let mut cell = cell.try_borrow_mut().ok()?;
            let stash = local(&mut cell);
            if stash.is_empty()
                && let Ok(mut shared) = pool.lock()
            {
                let from = shared.len().saturating_sub(TAKE);
                stash.extend(shared.drain(from..));
            }
            stash.pop()
        })
        .ok()
        .flatten()
}

fn put<T>(items: &mut Vec<T>, pool: &Mutex<Vec<T>>) {
    if let Ok(mut shared) = pool.lock() {
        let room = POOL_LIMIT.saturating_sub(shared.len()).min(items.len());
        shared.extend(items.drain(..room));
    }
    // What did not fit is freed here.
    items.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Buffers come back empty, with room, on any thread.
    #[test]
    fn buffers_come_back_empty_with_their_room() {
        let mut bodies = vec![String::with_capacity(BODY_CAPACITY * 2)];
        bodies[0].push_str("{\"old\":1}");
        let mut lists = vec![Routes::with_capacity(7)];
        assert!(keeps(&bodies[0]));
        assert!(!keeps(&String::with_capacity(10)));
        give_back(&mut bodies, &mut lists);
        assert!(bodies.is_empty() && lists.is_empty());
        // (Other tests share the pools, so which buffer comes back is not checked.)
        std::thread::spawn(|| {
            for _ in 0..2 * TAKE {
                let b = body();
                assert!(b.is_empty() && b.capacity() >= BODY_CAPACITY);
                let r = routes(3);
                assert!(r.is_empty() && r.capacity() >= 3);
                let r = routes(INLINE_ROUTES + 3);
                assert!(r.is_empty() && r.capacity() >= INLINE_ROUTES + 3);
            }
        })
        .join()
        .expect("no panic");
    }

    /// Chunk lists come back empty with their room.
    #[test]
    fn chunk_lists_come_back_empty_with_their_room() {
        let mut list = chunk(100);
        assert!(list.is_empty() && list.capacity() >= 100);
        list.push(super::super::produce::empty_prepared(1, 0.0));
        give_back_chunk(list);
        let again = chunk(10);
        assert!(again.is_empty() && again.capacity() >= 10);
    }
}
