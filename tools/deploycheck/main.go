// deploycheck renders what deploy/ ships with the reference implementations, without Docker or
// a cluster, so the tests can validate the result:
//
//	deploycheck compose <compose.yaml> <env-file>   load with compose-go (the Compose
//	                                                specification's own loader: schema,
//	                                                interpolation, merge), print the project as JSON
//	deploycheck kustomize <dir>                     build with kustomize's API, print the YAML
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "deploycheck:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 3 && args[0] == "compose":
		return compose(args[1], args[2])
	case len(args) == 2 && args[0] == "kustomize":
		return kustomize(args[1])
	default:
		return fmt.Errorf("usage: deploycheck compose <file> <env-file> | kustomize <dir>")
	}
}

func compose(file, envFile string) error {
	options, err := cli.NewProjectOptions(
		[]string{file},
		cli.WithEnvFiles(envFile),
		cli.WithDotEnv,
		cli.WithName("shouwang"),
	)
	if err != nil {
		return err
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return err
	}
	out, err := project.MarshalJSON()
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}

func kustomize(dir string) error {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return err
	}
	out, err := resources.AsYaml()
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}
