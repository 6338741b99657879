//! The Node-API side of `inject()`: a job built from what JS passes (the request's bytes, the
//! client address, the callback that takes the answer's bytes), and the handle JS keeps to
//! credit what it read and to close (docs/bridge.md, "inject").

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{
    ErrorStrategy, ThreadSafeCallContext, ThreadsafeFunction, ThreadsafeFunctionCallMode,
};
use napi::JsFunction;
use napi_derive::napi;

use super::{Control, Event, Job};

/// What JS holds of one injected request.
#[napi]
pub struct InjectHandle {
    control: Arc<Control>,
}

#[napi]
impl InjectHandle {
    /// JS consumed `bytes` of the answer it was handed: that much more may come.
    #[napi]
    pub fn credit(&self, bytes: u32) {
        self.control.credit(bytes as usize);
    }

    /// JS has the whole answer, or no longer wants it: the in-memory connection is dropped (a
    /// client gone, if it was still answering).
    #[napi]
    pub fn close(&self) {
        self.control.close();
    }
}

/// A handle collected without `close()` (its reader went away) must not keep a connection
/// waiting for credit forever.
impl Drop for InjectHandle {
    fn drop(&mut self) {
        self.control.close();
    }
}

/// The job for `request` (an HTTP/1.1 request, head and body) from `ip`; `on_data(chunk)` gets
/// the answer's bytes as Buffers, then `null` once at the end. The callback keeps the process
/// alive until that end.
pub fn job(request: Vec<u8>, ip: String, on_data: JsFunction) -> Result<(Job, InjectHandle)> {
    let tsfn: ThreadsafeFunction<Event, ErrorStrategy::Fatal> = on_data
        .create_threadsafe_function(0, |ctx: ThreadSafeCallContext<Event>| {
            Ok(vec![match ctx.value {
                // The chunk's memory becomes the Buffer's: no copy.
                Event::Data(bytes) => ctx
                    .env
                    .create_buffer_with_data(bytes)?
                    .into_raw()
                    .into_unknown(),
                Event::End => ctx.env.get_null()?.into_unknown(),
            }])
        })?;
    let to_js = Box::new(move |event: Event| {
        tsfn.call(event, ThreadsafeFunctionCallMode::NonBlocking);
    });
    let control = Arc::new(Control::default());
    let handle = InjectHandle {
        control: control.clone(),
    };
    Ok((Job::new(request, ip, control, to_js), handle))
}
