"""The foundation modules: ioloop, gen, concurrent, options, escape, util, locale, platform."""
