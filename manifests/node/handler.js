// Answers with a greeting for the name in the request body.
exports.handler = async (event) => ({
  statusCode: 200,
  body: `hello, ${event.body || 'world'}`,
});
