//! Every supported function shape compiles; every misuse fails with an error on the user's own
//! token. The `.stderr` files are the exact messages (pinned toolchain: rust-toolchain.toml).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/pass/*.rs");
    t.compile_fail("tests/fail/*.rs");
}
