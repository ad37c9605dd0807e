/* dmn-js's bundle ships Inferno's development build, which always console.error()s a notice
   about it while loading; that one known message is dropped (quiet-inferno-end.js restores). */
(function () {
  "use strict";
  var original = console.error;
  window.__chengxinConsoleError = original;
  console.error = function (message) {
    if (String(message).indexOf("development build of Inferno") < 0) { original.apply(console, arguments); }
  };
})();
