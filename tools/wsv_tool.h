/* wsv_tool.h - declarations shared by the wsv command's source files. */
#ifndef WSV_TOOL_H
#define WSV_TOOL_H

/* Each subcommand takes argv after the subcommand's name (argv[0] is the
 * subcommand) and returns the process exit status. */
int wsv_cmd_demo(int argc, char **argv);
int wsv_cmd_serve(int argc, char **argv);
int wsv_cmd_connect(int argc, char **argv);
int wsv_cmd_probe(int argc, char **argv);
int wsv_cmd_bench(int argc, char **argv);

#endif
