// Tokenizes an X12 file with the npm `x12-parser` stream (segments as objects) and counts the
// segments it emits. Used by ../bench-x12-peers.sh; NODE_PATH points at the install.
'use strict';
const { createReadStream } = require('node:fs');
const { X12parser } = require('x12-parser');

let segments = 0;
const parser = new X12parser();
parser.on('error', (error) => {
  console.error(`x12-parser: ${error.message}`);
  process.exit(1);
});
parser.on('data', () => {
  segments += 1;
});
parser.on('end', () => {
  console.error(`x12-parser: ${segments} segments`);
});
createReadStream(process.argv[2]).on('error', (error) => {
  console.error(`x12-parser: ${error.message}`);
  process.exit(1);
}).pipe(parser);
