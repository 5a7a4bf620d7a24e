//! Generated bindings of the `usage` world; the rest of the crate speaks in its own types.

wit_bindgen::generate!({
    world: "usage",
    path: "../wit",
    generate_all,
    pub_export_macro: true,
});
