// The runtime-api function for bench/shim (node): echoes the request body.
exports.main = async (req) => req.body;
