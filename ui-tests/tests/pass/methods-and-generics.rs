use std::fmt::Debug;

use traceweave::traced;

#[derive(Debug)]
struct Service<T> {
    items: Vec<T>,
}

impl<T: Clone + Debug> Service<T> {
    #[traced(args(?self))]
    fn by_ref(&self) -> usize {
        self.items.len()
    }

    #[traced]
    fn by_mut(&mut self, item: T) {
        self.items.push(item);
    }

    #[traced]
    fn by_value(self) -> Vec<T> {
        self.items
    }

    #[traced]
    fn assoc() -> Self {
        Service { items: Vec::new() }
    }

    #[traced]
    fn generic_method<U, F>(&self, f: F) -> Vec<U>
    where
        F: Fn(&T) -> U,
    {
        self.items.iter().map(f).collect()
    }

    #[traced]
    fn borrows<'a>(&'a self, other: &'a [T]) -> Option<&'a T> {
        self.items.first().or(other.first())
    }
}

impl<T: Debug> Service<T> {
    #[traced]
    fn boxed_self(self: Box<Self>) -> usize {
        self.items.len()
    }
}

trait Named {
    #[traced]
    fn name(&self) -> String {
        String::from("default")
    }
}

impl Named for () {}

#[traced]
fn generic<T: Into<u64>, const N: usize>(items: [T; N]) -> u64 {
    items.into_iter().map(Into::into).sum()
}

#[traced]
fn impl_arg(it: impl IntoIterator<Item = u8>) -> u32 {
    it.into_iter().map(u32::from).sum()
}

fn main() {
    let mut s = Service::<u8>::assoc();
    s.by_mut(1);
    let _ = s.by_ref();
    let _ = s.generic_method(|x| *x as u32);
    let _ = s.borrows(&[2]);
    let _ = Box::new(Service { items: vec![1u8] }).boxed_self();
    let _ = s.by_value();
    let _ = ().name();
    let _ = generic([1u8, 2]);
    let _ = impl_arg(vec![1, 2]);
}
