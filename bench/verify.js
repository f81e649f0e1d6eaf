// nginx + njs: what an operator builds by hand to verify DriveWidget's signature in front of an app.
// run.sh writes the secret in place of SECRET_PLACEHOLDER.
const crypto = require('crypto');

function verify(r) {
    const body = r.requestBuffer;
    const given = r.headersIn['X-DriveWidget-Signature'] || '';
    if (body === undefined) {
        r.return(401, '{"error":"invalid signature"}');
        return;
    }
    const expected = 'sha256=' + crypto.createHmac('sha256', 'SECRET_PLACEHOLDER').update(body).digest('hex');
    if (given.length !== expected.length || given.toLowerCase() !== expected) {
        r.return(401, '{"error":"invalid signature"}');
        return;
    }
    r.internalRedirect('@app');
}

export default { verify };
