import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { SampleConfigService } from './sample.config';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks(); // closes the ZooKeeper session on SIGTERM/SIGINT, so held locks free at once
  const port = app.get<SampleConfigService>(ConfigService).get('sample.port', { infer: true });
  await app.listen(port);
  console.log(`sample app listening on http://localhost:${port}`);
}

void bootstrap();
