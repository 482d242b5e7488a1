// Preload for peers that have no host flag: every net.Server.listen binds 127.0.0.1 only.
const net = require('net');
const orig = net.Server.prototype.listen;
net.Server.prototype.listen = function (...a) {
  if (a[0] && typeof a[0] === 'object' && !Array.isArray(a[0])) {
    if (a[0].path === undefined && a[0].fd === undefined && a[0].handle === undefined) a[0] = { ...a[0], host: '127.0.0.1' };
  } else if (typeof a[0] === 'number' || (typeof a[0] === 'string' && /^\d+$/.test(a[0]))) {
    if (typeof a[1] === 'string') a[1] = '127.0.0.1'; else a.splice(1, 0, '127.0.0.1');
  }
  return orig.apply(this, a);
};
