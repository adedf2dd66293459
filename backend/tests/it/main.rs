//! The backend's integration tests, one crate: contracts, AWS event
//! fixtures and property tests of the functions' inputs.
//! Run one module with `cargo test -p backend --test it MODULE::`.

mod chat_spec;
mod http_api_lambda;
mod http_openapi_routes;
mod input_properties;
mod nova_sonic_stream;
