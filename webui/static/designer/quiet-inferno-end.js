/* Every console error shows again once the dmn-js bundle has loaded (see quiet-inferno.js). */
if (window.__chengxinConsoleError) { console.error = window.__chengxinConsoleError; }
