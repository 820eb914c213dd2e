//! Prints the golden lines on the host (the kernel's, then the next
//! engine's), for CI to compare with QEMU and Node.
fn main() {
    let mut buffers = firesale_golden::Buffers::default();
    for index in 0..firesale_golden::COUNT {
        let outcome =
            firesale_golden::run(index, &mut buffers, &mut ()).expect("golden scenarios are valid");
        let mut line = String::new();
        firesale_golden::line(index, &outcome, &mut line).expect("formatting into a String");
        println!("{line}");
    }
    let mut buffers = firesale_golden::next::Buffers::default();
    let mut lines = String::new();
    firesale_golden::next::lines(&mut buffers, &mut lines)
        .expect("next golden scenarios are valid");
    print!("{lines}");
}
