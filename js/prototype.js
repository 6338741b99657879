'use strict';
// Adding methods and accessors to a class's prototype from outside the class (the Express surface
// installed onto App, Request and Response), shaped as class members are: configurable, not
// enumerable, so a for...in over req or res (as some middleware does) sees the same keys as before.

function defineMethods(proto, methods) {
  for (const [name, value] of Object.entries(methods)) {
    Object.defineProperty(proto, name, { configurable: true, writable: true, enumerable: false, value });
  }
}

// `accessors`: { name: { get, set? } }.
function defineAccessors(proto, accessors) {
  for (const [name, descriptor] of Object.entries(accessors)) {
    Object.defineProperty(proto, name, { configurable: true, enumerable: false, ...descriptor });
  }
}

module.exports = { defineMethods, defineAccessors };
