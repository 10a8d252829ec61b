//! The data plane: listeners, routes, clusters, the filter chain with its built-in
//! filters, hot reload and the admin endpoint.
