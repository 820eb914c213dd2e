//! `step` allocates nothing, on the host too: a counting global allocator
//! watches a whole cascade (the bundled default, 3,000 accounts, a 20% drop)
//! stepped with several budgets, and the count must not move while the
//! engine runs. Storage and the engine are made before counting starts.
//!
//! Only the test's own thread is counted: the test harness's main thread
//! runs beside it and may allocate at any moment (a CI run once saw 4
//! allocations, on a busy machine, from a kernel that cannot allocate: it
//! does not link `alloc`).

use firesale_tests::{engine, Buffers};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

thread_local! {
    /// Whether this thread's allocations count. A `const` thread-local of
    /// a `Cell<bool>` needs no allocation and no destructor, so the
    /// allocator may read it.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

fn count_allocation() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: every call is passed to the system allocator unchanged; the
// counter only observes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: the caller's contract is forwarded as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is forwarded as it is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        // SAFETY: the caller's contract is forwarded as it is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_whole_cascade_steps_without_allocating() {
    let scenario = firesale_harness::markets::default_lending();
    let mut buffers = Buffers::new(&scenario);
    let mut e = engine(&scenario, &mut buffers).unwrap();
    let mut steps = 0u64;
    COUNTING.set(true);
    let budgets = [1u32, 7, 64, 1_000];
    let termination = loop {
        let budget = budgets[(steps % 4) as usize];
        steps += 1;
        if let firesale_core::StepOutcome::Done(t) = e.step(budget, &mut ()) {
            break t;
        }
    };
    COUNTING.set(false);
    let allocations = ALLOCATIONS.load(Ordering::SeqCst);
    assert!(e.report().liquidations > 1_000, "a real cascade ran");
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in {steps} steps ({termination:?})"
    );
}
