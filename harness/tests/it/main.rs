//! The harness's integration tests, one crate (one link of the whole stack):
//! each module is one area, and the `*support` modules are their helpers.
//! Run one area with `cargo test -p harness --test it AREA::`.

mod chat_support;
mod nova_support;
mod security_support;
mod support;

mod assessment_regression;
mod buddy;
mod buddy_python_client;
mod buddy_troubleshooting;
mod chaos;
mod chat_api;
mod chat_authorizer;
mod conversation;
mod cost;
mod http_api_accounts;
mod http_api_assessments;
mod http_api_gateway;
mod input_properties;
mod load;
mod local_stack;
mod nova_sonic_conformance;
mod nova_sonic_stream;
mod reports;
mod repro;
mod rest_gateway;
mod scenario_files;
mod security_chat;
mod security_http;
mod security_http_limits;
mod security_secrets;
mod speaking;
mod websocket_gateway;
mod wrong_target;
