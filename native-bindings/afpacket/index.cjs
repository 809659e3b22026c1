'use strict';
// Loads the compiled addon; the TypeScript wrapper is src/capture/afpacket.ts.
module.exports = require('./build/Release/stnn_afpacket.node');
