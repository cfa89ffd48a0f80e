exports.main = async (event) => ({ ok: true, event });
