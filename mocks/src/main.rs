//! `mocks`: runs the fake upstreams on their own (the local stack starts them in-process).

fn main() {
    eprintln!("mocks: no mock is implemented in this binary yet");
    std::process::exit(2);
}
