trait Store {
    #[traceweave::traced]
    fn get(&self) -> u8;
}

fn main() {}
