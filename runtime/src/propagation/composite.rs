//! Several formats at once.

use super::{Extractor, Injector, Propagator};
use crate::context::Context;

/// Injects every format; extracts with each in turn (the first span found wins, baggage from
/// all formats is merged).
#[derive(Debug)]
pub struct CompositePropagator {
    parts: Vec<Box<dyn Propagator>>,
}

impl CompositePropagator {
    /// A composite of these propagators, in order.
    pub fn new(parts: Vec<Box<dyn Propagator>>) -> Self {
        CompositePropagator { parts }
    }
}

impl Propagator for CompositePropagator {
    fn inject(&self, cx: &Context, carrier: &mut dyn Injector) {
        for p in &self.parts {
            p.inject(cx, carrier);
        }
    }

    fn extract_with(&self, carrier: &dyn Extractor, cx: Context) -> Context {
        let mut out = cx;
        let mut found = false;
        for p in &self.parts {
            let next = p.extract_with(carrier, out.clone());
            if found && next.span_context() != out.span_context() {
                // An earlier format already gave the parent; keep it, take the rest.
                out = next.with_span_context(*out.span_context());
            } else {
                found |= next.has_span() && next.span_context() != out.span_context();
                out = next;
            }
        }
        out
    }

    fn fields(&self) -> Vec<String> {
        self.parts.iter().flat_map(|p| p.fields()).collect()
    }
}
