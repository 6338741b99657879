'use strict';
// An app's settings, with Express's names and semantics: app.set(name, value), app.get(name) (one
// string argument: the getter, beside app.get(path, handler)), app.enable/disable/enabled/
// disabled, app.settings. The settings the request and response helpers read are compiled when
// they change ('trust proxy' into proxy-addr's function, 'cookie secret' into a list), never per
// request. createApp({ trustProxy, cookieSecret }) sets the same two.
const { HN_ERR_BAD_OPTION } = require('./errors');
const { compileTrust } = require('./trust-proxy');
const { defineMethods, defineAccessors } = require('./prototype');

// createApp() options that are settings, and the setting each one sets.
const SETTING_OPTIONS = { trustProxy: 'trust proxy', cookieSecret: 'cookie secret' };

// Express's defaults for the settings the helpers read. 'subdomain offset': how many labels of
// the host name are the domain (example.com), the rest being req.subdomains.
const DEFAULTS = {
  'trust proxy': false,
  'subdomain offset': 2,
  'json spaces': undefined,
  'json replacer': undefined,
  'jsonp callback name': 'callback',
  'cookie secret': undefined,
};

class Settings {
  constructor() {
    // No prototype: a setting named like an Object.prototype member ('constructor', '__proto__')
    // is just a setting.
    this.values = Object.assign(Object.create(null), DEFAULTS);
    // Compiled forms, read by the helpers: null when no proxy is trusted, null without secrets.
    this.trust = null;
    this.cookieSecrets = null;
    // JSON.stringify's replacer and spaces when either is set, else null (res.json's fast path).
    this.jsonFormat = null;
  }

  set(name, value) {
    if (typeof name !== 'string') throw new HN_ERR_BAD_OPTION(`app.set(name, value): name must be a string, got ${typeof name}`);
    // Compiled first: a bad value throws and changes nothing.
    if (name === 'trust proxy') this.trust = compileTrust(value);
    else if (name === 'cookie secret') this.cookieSecrets = cookieSecrets(value);
    else if (name === 'subdomain offset') subdomainOffset(value);
    else if (name === 'json replacer' || name === 'json spaces') {
      const replacer = name === 'json replacer' ? value : this.values['json replacer'];
      const spaces = name === 'json spaces' ? value : this.values['json spaces'];
      this.jsonFormat = replacer || spaces ? { replacer, spaces } : null;
    }
    this.values[name] = value;
  }

  get(name) {
    return this.values[name];
  }
}

// The settings a request without an app (none today) would see.
const NO_APP = new Settings();

function cookieSecrets(value) {
  if (value === undefined || value === null || value === false) return null;
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) return null;
  for (const secret of list) {
    if ((typeof secret !== 'string' || secret === '') && !Buffer.isBuffer(secret)) {
      throw new HN_ERR_BAD_OPTION("'cookie secret' must be a non-empty string (or Buffer), or an array of them (the first signs, any verifies)");
    }
  }
  return [...list];
}

function subdomainOffset(value) {
  if (!Number.isInteger(value) || value < 0) {
    throw new HN_ERR_BAD_OPTION(`'subdomain offset' must be an integer >= 0, got ${String(value)}`);
  }
}

// The methods the App gets (installed by app.js). Express's app.get(name) with a single string is
// the getter; with handlers it registers a route, as before.
function install(App) {
  const route = App.prototype.get;
  defineMethods(App.prototype, {
    set(name, value) {
      if (arguments.length === 1) return settingsOf(this).get(name);
      settingsOf(this).set(name, value);
      return this;
    },
    get(path, ...handlers) {
      if (handlers.length === 0 && typeof path === 'string') return settingsOf(this).get(path);
      return route.call(this, path, ...handlers);
    },
    enable(name) {
      return this.set(name, true);
    },
    disable(name) {
      return this.set(name, false);
    },
    enabled(name) {
      return Boolean(this.set(name));
    },
    disabled(name) {
      return !this.set(name);
    },
  });
  defineAccessors(App.prototype, {
    settings: {
      get() {
        return settingsOf(this).values;
      },
    },
  });
}

// The app's settings, made on first use (an app that never sets one keeps the defaults).
function settingsOf(app) {
  if (app._settings === undefined) app._settings = new Settings();
  return app._settings;
}

// createApp(options): the options that are settings, applied to the app.
function applyOptions(app, options) {
  if (options === undefined || options === null || typeof options !== 'object') return;
  for (const [key, name] of Object.entries(SETTING_OPTIONS)) {
    if (options[key] !== undefined) settingsOf(app).set(name, options[key]);
  }
}

// The settings a request's helpers read: its app's (req._bridge.app, set when the app listens).
function requestSettings(req) {
  const bridge = req._bridge;
  const app = bridge === null || bridge === undefined ? undefined : bridge.app;
  return app === undefined || app._settings === undefined ? NO_APP : app._settings;
}

module.exports = { Settings, SETTING_OPTIONS, install, applyOptions, settingsOf, requestSettings };
