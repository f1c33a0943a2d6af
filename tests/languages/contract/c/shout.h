const char *shout(const char *text);
