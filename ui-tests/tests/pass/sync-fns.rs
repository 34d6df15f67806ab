use traceweave::traced;

#[traced]
fn unit() {}

#[traced(name = "renamed", kind = server)]
pub fn with_return(a: u32, b: u32) -> u32 {
    a + b
}

#[traced(args(a, %b, ?c), attrs(user.id = 7, "http.route" = "/x", note = %b, dbg = ?c))]
fn recorded(a: i64, b: String, c: Vec<u8>) -> usize {
    b.len() + c.len() + a as usize
}

#[traced(args(x, y))]
fn patterns((x, y): (u8, u8), Wrapper { inner }: Wrapper) -> u8 {
    x + y + inner
}

struct Wrapper {
    inner: u8,
}

#[traced]
fn question_mark(s: &str) -> Result<u8, std::num::ParseIntError> {
    let n: u8 = s.parse()?;
    Ok(n)
}

#[traced(ret)]
fn early(flag: bool) -> Option<u8> {
    if flag {
        return Some(1);
    }
    None
}

#[traced]
fn diverges() -> ! {
    panic!("never returns")
}

#[traced]
fn returns_impl_trait(n: u8) -> impl std::fmt::Display {
    n
}

#[traced]
fn elided<'a>(s: &'a str, _t: &str) -> &'a str {
    s
}

#[traced]
fn elided_implicit(s: &str) -> &str {
    s
}

#[traced(root)]
fn new_trace() {}

#[traced(parent = ctx)]
fn with_parent(ctx: &traceweave::Context) {}

#[traced(kind = producer)]
unsafe fn unsafe_fn(p: *const u8) -> u8 {
    unsafe { *p }
}

#[traced(kind = consumer)]
extern "C" fn extern_fn(x: i32) -> i32 {
    x
}

#[traced(args(r#type))]
fn raw_ident(r#type: u8) -> u8 {
    r#type
}

fn main() {
    unit();
    let _ = with_return(1, 2);
    let _ = recorded(1, "b".into(), vec![1]);
    let _ = patterns((1, 2), Wrapper { inner: 3 });
    let _ = question_mark("1");
    let _ = early(true);
    let _ = returns_impl_trait(1).to_string();
    let _ = elided("a", "b");
    let _ = elided_implicit("a");
    new_trace();
    with_parent(&traceweave::Context::current());
    let v = 1u8;
    let _ = unsafe { unsafe_fn(&v) };
    let _ = extern_fn(1);
    let _ = raw_ident(1);
    if false {
        diverges();
    }
}
